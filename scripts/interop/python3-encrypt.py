#!/usr/bin/python3
"""Encrypt (or decrypt) the Assertion of a SAML Response with independent
Python implementations, for s3fed's interop tests.

  python3-encrypt.py encrypt --cert C.pem --key-transport KT --data ALG < in.xml > out.xml
  python3-encrypt.py decrypt --key K.pem < encrypted.xml > assertion.xml

encrypt: the input is a Response with one saml:Assertion child that declares
every namespace it uses. It is replaced by a saml:EncryptedAssertion whose
EncryptedData carries the content key in an EncryptedKey inside its KeyInfo.
  --key-transport rsa-oaep-mgf1p or rsa-1_5: python3-xmlsec (libxmlsec1's
      template API: encrypted_data_create, add_encrypted_key, encrypt_xml),
      the library python3-saml (OneLogin) is built on.
  --key-transport rsa-oaep-sha256-mgf1sha1, rsa-oaep-sha256-mgf1sha256 or
      rsa-oaep (SHA-1 digest and MGF1-SHA-1 defaults): xmlenc11#rsa-oaep,
      which libxmlsec1 1.2 lacks, built with python3-cryptography (RSA-OAEP,
      AES-GCM) and lxml, following XML Encryption 1.1 section 5.
  --data aes128-gcm | aes256-gcm | aes128-cbc | aes192-cbc | aes256-cbc | tripledes-cbc
decrypt: OneLogin_Saml2_Utils.decrypt_element (python3-saml over
python3-xmlsec) on the EncryptedData, or python3-cryptography for
xmlenc11#rsa-oaep; prints the decrypted Assertion.

Run it with Debian's /usr/bin/python3 (python3-onelogin-saml2, python3-xmlsec,
python3-lxml, python3-cryptography).
"""
import argparse
import base64
import os
import sys

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils as U

NS_P = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_A = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_ENC = "http://www.w3.org/2001/04/xmlenc#"
NS_ENC11 = "http://www.w3.org/2009/xmlenc11#"

XMLSEC_DATA = {
    "aes128-gcm": xmlsec.constants.TransformAes128Gcm,
    "aes256-gcm": xmlsec.constants.TransformAes256Gcm,
    "aes128-cbc": xmlsec.constants.TransformAes128Cbc,
    "aes192-cbc": xmlsec.constants.TransformAes192Cbc,
    "aes256-cbc": xmlsec.constants.TransformAes256Cbc,
    "tripledes-cbc": xmlsec.constants.TransformDes3Cbc,
}
XMLSEC_KT = {
    "rsa-oaep-mgf1p": xmlsec.constants.TransformRsaOaep,
    "rsa-1_5": xmlsec.constants.TransformRsaPkcs1,
}
SESSION = {
    "aes128": (xmlsec.constants.KeyDataAes, 128),
    "aes192": (xmlsec.constants.KeyDataAes, 192),
    "aes256": (xmlsec.constants.KeyDataAes, 256),
    "tripledes": (xmlsec.constants.KeyDataDes, 192),
}
# xmlenc11#rsa-oaep variants: (DigestMethod URI or None, MGF URI or None, digest, mgf hash)
OAEP11 = {
    "rsa-oaep": (None, None, hashes.SHA1(), hashes.SHA1()),
    "rsa-oaep-sha256-mgf1sha1": ("http://www.w3.org/2001/04/xmlenc#sha256", NS_ENC11 + "mgf1sha1", hashes.SHA256(), hashes.SHA1()),
    "rsa-oaep-sha256-mgf1sha256": ("http://www.w3.org/2001/04/xmlenc#sha256", NS_ENC11 + "mgf1sha256", hashes.SHA256(), hashes.SHA256()),
}
DIGESTS = {
    "http://www.w3.org/2000/09/xmldsig#sha1": hashes.SHA1,
    "http://www.w3.org/2001/04/xmlenc#sha256": hashes.SHA256,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashes.SHA512,
}
MGFS = {
    NS_ENC11 + "mgf1sha1": hashes.SHA1,
    NS_ENC11 + "mgf1sha256": hashes.SHA256,
    NS_ENC11 + "mgf1sha512": hashes.SHA512,
}


def parse(data):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(data, parser)


def data_uri(alg):
    return (NS_ENC11 if alg.endswith("gcm") else NS_ENC) + alg


def encrypt_xmlsec(assertion, cert, kt, alg):
    """libxmlsec1 through python3-xmlsec, as python3-saml uses it."""
    enc_data = xmlsec.template.encrypted_data_create(
        assertion.getroottree().getroot(), XMLSEC_DATA[alg], type=xmlsec.constants.TypeEncElement, ns="xenc")
    xmlsec.template.encrypted_data_ensure_cipher_value(enc_data)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(enc_data, ns="ds")
    enc_key = xmlsec.template.add_encrypted_key(key_info, XMLSEC_KT[kt])
    xmlsec.template.encrypted_data_ensure_cipher_value(enc_key)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_file(cert, xmlsec.constants.KeyDataFormatCertPem, None))
    ctx = xmlsec.EncryptionContext(manager)
    klass, bits = SESSION[alg.split("-")[0]]
    ctx.key = xmlsec.Key.generate(klass, bits, xmlsec.constants.KeyDataTypeSession)
    return ctx.encrypt_xml(enc_data, assertion)


def encrypt_oaep11(assertion, cert_pem, kt, alg):
    """xmlenc11#rsa-oaep with python3-cryptography, written out by hand."""
    if not alg.endswith("gcm"):
        raise SystemExit("the cryptography path encrypts with AES-GCM only")
    digest_uri, mgf_uri, digest, mgf = OAEP11[kt]
    cert = x509.load_pem_x509_certificate(cert_pem)
    cek = os.urandom(16 if alg.startswith("aes128") else 32)
    plain = etree.tostring(assertion)
    iv = os.urandom(12)
    ct = iv + AESGCM(cek).encrypt(iv, plain, None)
    wrapped = cert.public_key().encrypt(cek, padding.OAEP(mgf=padding.MGF1(mgf), algorithm=digest, label=None))

    E = lambda ns, tag, **kw: etree.Element("{%s}%s" % (ns, tag), nsmap={"xenc": NS_ENC, "ds": NS_DS, "xenc11": NS_ENC11}, **kw)
    ed = E(NS_ENC, "EncryptedData", Type=NS_ENC + "Element")
    etree.SubElement(ed, "{%s}EncryptionMethod" % NS_ENC, Algorithm=data_uri(alg))
    ki = etree.SubElement(ed, "{%s}KeyInfo" % NS_DS)
    ek = etree.SubElement(ki, "{%s}EncryptedKey" % NS_ENC)
    em = etree.SubElement(ek, "{%s}EncryptionMethod" % NS_ENC, Algorithm=NS_ENC11 + "rsa-oaep")
    if digest_uri:
        etree.SubElement(em, "{%s}DigestMethod" % NS_DS, Algorithm=digest_uri)
    if mgf_uri:
        etree.SubElement(em, "{%s}MGF" % NS_ENC11, Algorithm=mgf_uri)
    eki = etree.SubElement(ek, "{%s}KeyInfo" % NS_DS)
    etree.SubElement(etree.SubElement(eki, "{%s}X509Data" % NS_DS), "{%s}X509Certificate" % NS_DS).text = \
        base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    etree.SubElement(etree.SubElement(ek, "{%s}CipherData" % NS_ENC), "{%s}CipherValue" % NS_ENC).text = base64.b64encode(wrapped).decode()
    etree.SubElement(etree.SubElement(ed, "{%s}CipherData" % NS_ENC), "{%s}CipherValue" % NS_ENC).text = base64.b64encode(ct).decode()
    parent = assertion.getparent()
    parent.replace(assertion, ed)
    return ed


def encrypt(args, data):
    root = parse(data)
    if root.tag != "{%s}Response" % NS_P:
        raise SystemExit("input is not a SAML protocol Response")
    assertion = root.find("{%s}Assertion" % NS_A)
    if assertion is None:
        raise SystemExit("Response has no Assertion child")
    # The EncryptedAssertion takes the Assertion's place, with the Assertion's own prefix; the
    # Assertion moves inside it first, so the EncryptedData ends up in the right place. lxml then
    # drops the Assertion's now redundant namespace declaration, and libxmlsec serialises the
    # element without it: that plaintext relies on the EncryptedAssertion's declaration, which
    # XML Encryption decrypters resolve by parsing in context (the cryptography path's
    # etree.tostring writes the declarations in, so it is self-contained).
    ea = etree.Element("{%s}EncryptedAssertion" % NS_A, nsmap={assertion.prefix: NS_A})
    assertion.addprevious(ea)
    ea.append(assertion)
    if args.key_transport in XMLSEC_KT:
        encrypt_xmlsec(assertion, args.cert, args.key_transport, args.data)
    elif args.key_transport in OAEP11:
        encrypt_oaep11(assertion, open(args.cert, "rb").read(), args.key_transport, args.data)
    else:
        raise SystemExit("unknown key transport %s" % args.key_transport)
    return etree.tostring(root)


def decrypt(args, data):
    root = parse(data)
    ed = root.find(".//{%s}EncryptedData" % NS_ENC)
    if ed is None:
        raise SystemExit("no EncryptedData")
    method = ed.find(".//{%s}EncryptedKey/{%s}EncryptionMethod" % (NS_ENC, NS_ENC)).get("Algorithm")
    key_pem = open(args.key, "rb").read()
    if method != NS_ENC11 + "rsa-oaep":
        return etree.tostring(U.decrypt_element(ed, key_pem.decode()))
    em = ed.find(".//{%s}EncryptedKey/{%s}EncryptionMethod" % (NS_ENC, NS_ENC))
    dm, mgf = em.find("{%s}DigestMethod" % NS_DS), em.find("{%s}MGF" % NS_ENC11)
    digest = DIGESTS[dm.get("Algorithm")]() if dm is not None else hashes.SHA1()
    mgfh = MGFS[mgf.get("Algorithm")]() if mgf is not None else hashes.SHA1()
    key = serialization.load_pem_private_key(key_pem, None)
    wrapped = base64.b64decode(ed.find(".//{%s}EncryptedKey/{%s}CipherData/{%s}CipherValue" % (NS_ENC, NS_ENC, NS_ENC)).text)
    cek = key.decrypt(wrapped, padding.OAEP(mgf=padding.MGF1(mgfh), algorithm=digest, label=None))
    alg = ed.find("{%s}EncryptionMethod" % NS_ENC).get("Algorithm")
    ct = base64.b64decode(ed.find("{%s}CipherData/{%s}CipherValue" % (NS_ENC, NS_ENC)).text)
    if alg.endswith("gcm"):
        return AESGCM(cek).decrypt(ct[:12], ct[12:], None)
    # CBC (XML Encryption 1.0 section 5.2): IV, then blocks; the last plaintext byte is the
    # padding length.
    algo = algorithms.TripleDES(cek) if alg.endswith("tripledes-cbc") else algorithms.AES(cek)
    bs = algo.block_size // 8
    d = Cipher(algo, modes.CBC(ct[:bs])).decryptor()
    plain = d.update(ct[bs:]) + d.finalize()
    return plain[:-plain[-1]]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("encrypt")
    e.add_argument("--cert", required=True)
    e.add_argument("--key-transport", required=True)
    e.add_argument("--data", required=True, choices=sorted(XMLSEC_DATA))
    d = sub.add_parser("decrypt")
    d.add_argument("--key", required=True)
    args = p.parse_args()
    data = sys.stdin.buffer.read()
    out = encrypt(args, data) if args.cmd == "encrypt" else decrypt(args, data)
    sys.stdout.buffer.write(out)


if __name__ == "__main__":
    main()
