#!/usr/bin/python3
"""Sign (or verify) a SAML Response with python3-saml (OneLogin), an
independent implementation, for s3fed's interop tests.

  python3-saml-sign.py sign   --mode both|response|assertion --key K.pem --cert C.pem < in.xml > out.xml
  python3-saml-sign.py verify --mode both|response|assertion --cert C.pem < signed.xml

sign: the input is an unsigned Response. OneLogin_Saml2_Utils.add_sign
inserts an enveloped signature after the first saml:Issuer of the document
it is given (exclusive C14N, RSA-SHA256, SHA-256 digest), so the Assertion is
signed on its own (serialised alone) and put back, then the whole Response is
signed; exclusive C14N makes the Assertion's signature valid in place.

verify: OneLogin_Saml2_Utils.validate_sign with only the given certificate
(the KeyInfo certificate is not trusted). Exit status 0 if every requested
signature verifies.

Run it with Debian's /usr/bin/python3 (python3-onelogin-saml2, python3-lxml).
"""
import argparse
import sys

import xmlsec

from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils as U

NS_P = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_A = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"


def parse(data):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(data, parser)
    if root.tag != "{%s}Response" % NS_P:
        raise SystemExit("input is not a SAML protocol Response")
    return root


def assertion_of(root):
    a = root.find("{%s}Assertion" % NS_A)
    if a is None:
        raise SystemExit("Response has no Assertion child")
    return a


def sign(args, data):
    key = open(args.key).read()
    cert = open(args.cert).read()
    root = parse(data)
    if args.mode in ("assertion", "both"):
        a = assertion_of(root)
        signed = U.add_sign(etree.tostring(a), key, cert,
                            sign_algorithm=C.RSA_SHA256, digest_algorithm=C.SHA256)
        root.replace(a, etree.fromstring(signed))
    if args.mode in ("response", "both"):
        return U.add_sign(etree.tostring(root), key, cert,
                          sign_algorithm=C.RSA_SHA256, digest_algorithm=C.SHA256)
    return etree.tostring(root)


def verify(args, data):
    cert = open(args.cert).read()
    root = parse(data)
    xmlsec.tree.add_ids(root, ["ID"])
    targets = []
    if args.mode in ("assertion", "both"):
        targets.append(("Assertion", assertion_of(root)))
    if args.mode in ("response", "both"):
        targets.append(("Response", root))
    for name, el in targets:
        sigs = el.findall("{%s}Signature" % NS_DS)
        if len(sigs) != 1:
            raise SystemExit("%s has %d Signature children, want 1" % (name, len(sigs)))
        # The key comes from the given certificate only, never from KeyInfo.
        if not U.validate_node_sign(sigs[0], root, cert, raise_exceptions=False):
            raise SystemExit("%s signature does NOT verify" % name)
    return b"python3-saml: %d signature(s) OK\n" % len(targets)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["sign", "verify"])
    ap.add_argument("--mode", choices=["both", "response", "assertion"], default="both")
    ap.add_argument("--key")
    ap.add_argument("--cert", required=True)
    args = ap.parse_args()
    data = sys.stdin.buffer.read()
    if args.action == "sign":
        if not args.key:
            ap.error("sign needs --key")
        out = sign(args, data)
    else:
        out = verify(args, data)
    sys.stdout.buffer.write(out)


if __name__ == "__main__":
    main()
