package saml

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // OAEP's default digest and MGF1 hash (xmlenc-core §5.4.2)
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/beevik/etree"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// XML Encryption names (xmlenc-core, W3C 2002, and xmlenc-core1, W3C 2013) that the decryption
// allow-list knows. Only these are ever accepted; anything else is refused before any
// cryptography runs.
const (
	NSXMLEnc   = "http://www.w3.org/2001/04/xmlenc#"
	NSXMLEnc11 = "http://www.w3.org/2009/xmlenc11#"

	// Key transport.
	AlgRSAOAEPMGF1P = NSXMLEnc + "rsa-oaep-mgf1p" // MGF1 with SHA-1, digest default SHA-1
	AlgRSAOAEP      = NSXMLEnc11 + "rsa-oaep"     // MGF and digest named by child elements
	AlgRSA15        = NSXMLEnc + "rsa-1_5"        // legacy: Bleichenbacher-prone

	// Data encryption.
	AlgAES128GCM    = NSXMLEnc11 + "aes128-gcm"
	AlgAES256GCM    = NSXMLEnc11 + "aes256-gcm"
	AlgAES128CBC    = NSXMLEnc + "aes128-cbc"    // legacy: unauthenticated, padding oracles
	AlgAES192CBC    = NSXMLEnc + "aes192-cbc"    // legacy
	AlgAES256CBC    = NSXMLEnc + "aes256-cbc"    // legacy
	AlgTripleDESCBC = NSXMLEnc + "tripledes-cbc" // legacy

	typeElement = NSXMLEnc + "Element"

	// Digests for RSA-OAEP (xmlenc-core1 §5.2) and its MGF1 variants (§5.5.2).
	algDigestSHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
	algMGF1SHA1   = NSXMLEnc11 + "mgf1sha1"
	algMGF1SHA224 = NSXMLEnc11 + "mgf1sha224"
	algMGF1SHA256 = NSXMLEnc11 + "mgf1sha256"
	algMGF1SHA384 = NSXMLEnc11 + "mgf1sha384"
	algMGF1SHA512 = NSXMLEnc11 + "mgf1sha512"
)

// Limits of the EncryptedAssertion profile.
const (
	// MaxEncryptedKeys bounds the EncryptedKeys of one EncryptedAssertion (one per recipient;
	// several only when an IdP encrypts to several SPs). With at most 3 decryption keys per
	// config, one message costs at most 9 RSA private-key operations.
	MaxEncryptedKeys = 3
	// MaxDecryptionKeys is the number of encryption keys a config may hold (API.md).
	MaxDecryptionKeys = 3
	// MinDecryptionKeyBits and MaxDecryptionKeyBits bound a decryption key: the sizes s3fed
	// generates (RSA_2048, RSA_3072, RSA_4096).
	MinDecryptionKeyBits = 2048
	MaxDecryptionKeyBits = 4096
	maxWrappedKeyBytes   = 1024 // an RSA-8192 ciphertext; anything longer fits no key
	maxOAEPLabelBytes    = 256
	gcmNonceSize         = 12 // xmlenc-core1 §5.2.4: 96-bit IV, then ciphertext, then 128-bit tag
	gcmTagSize           = 16
)

// dataAlgorithm is one allowed block encryption algorithm.
type dataAlgorithm struct {
	keyLen    int
	gcm       bool
	legacy    bool
	newCipher func(key []byte) (cipher.Block, error)
}

var dataAlgorithms = map[string]dataAlgorithm{
	AlgAES128GCM:    {keyLen: 16, gcm: true, newCipher: aes.NewCipher},
	AlgAES256GCM:    {keyLen: 32, gcm: true, newCipher: aes.NewCipher},
	AlgAES128CBC:    {keyLen: 16, legacy: true, newCipher: aes.NewCipher},
	AlgAES192CBC:    {keyLen: 24, legacy: true, newCipher: aes.NewCipher},
	AlgAES256CBC:    {keyLen: 32, legacy: true, newCipher: aes.NewCipher},
	AlgTripleDESCBC: {keyLen: 24, legacy: true, newCipher: des.NewTripleDESCipher},
}

var oaepDigests = map[string]crypto.Hash{
	algDigestSHA1: crypto.SHA1,
	algDigest256:  crypto.SHA256,
	algDigest384:  crypto.SHA384,
	algDigest512:  crypto.SHA512,
}

var mgfHashes = map[string]crypto.Hash{
	algMGF1SHA1:   crypto.SHA1,
	algMGF1SHA224: crypto.SHA224,
	algMGF1SHA256: crypto.SHA256,
	algMGF1SHA384: crypto.SHA384,
	algMGF1SHA512: crypto.SHA512,
}

// DecryptionKey is one of a config's SAML encryption keys: the private half of a certificate the
// IdP encrypts assertions to. It formats as its ID only, so a Config printed or logged by
// mistake never shows a private key.
type DecryptionKey struct {
	ID          string            // the config's key ID, reported in Assertion.DecryptionKeyID
	Key         *rsa.PrivateKey   // RSA 2048..4096 bits
	Certificate *x509.Certificate // optional: an EncryptedKey naming it is tried with this key first
}

// Format prints the key's ID only, whatever the verb.
func (k DecryptionKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "DecryptionKey(%s)", k.ID)
}

// encryptedParts is a checked saml:EncryptedAssertion: the algorithms and ciphertexts it carries.
type encryptedParts struct {
	dataAlg string
	data    dataAlgorithm
	cipher  []byte // IV || ciphertext (|| GCM tag)
	keys    []*encryptedKey
}

// encryptedKey is one checked xenc:EncryptedKey.
type encryptedKey struct {
	alg       string
	hash, mgf crypto.Hash
	label     []byte
	cipher    []byte
	certs     [][]byte // X509Certificate DER from its KeyInfo: only compared, never parsed
}

// undecryptable is the one error every cryptographic failure gives (key transport to no key of
// ours, wrong key, bad padding, GCM tag mismatch, ciphertext of a wrong length, and — for CBC,
// whose plaintext is unauthenticated — a plaintext that is not a well-formed Assertion), so that
// nothing distinguishes one failure from another (no padding or parse oracle).
func undecryptable() *Error {
	return refuse(CodeInvalidResponse, "EncryptedAssertion cannot be decrypted with this config's encryption keys")
}

// decryptAssertion turns the saml:EncryptedAssertion ea (from the verified Response when it is
// signed, else from the parsed tree) into the saml:Assertion it encrypts, as the root of its own
// pre-filtered document. The caller then treats it exactly like a plaintext Assertion: its own
// signature, if any, is verified, and the policy layer reads it.
//
// What this does and does not establish: decryption proves nothing about who made the
// Assertion, since the SP's encryption certificate is public. When the Response is signed, ea
// comes from goxmldsig's verified tree, so every input of the decryption (algorithms, wrapped
// key, ciphertext) is covered by the IdP's signature and the plaintext is what the IdP
// encrypted; otherwise the Assertion must carry its own trusted signature, which the caller
// requires.
//
// Rules: keys only from the config (never from the message); key transport rsa-oaep-mgf1p or
// xmlenc11 rsa-oaep (digest SHA-1/256/384/512, MGF1 with SHA-1/224/256/384/512); data
// aes128-gcm or aes256-gcm; rsa-1_5, AES-CBC and 3DES-CBC only with AllowLegacyEncryption, and
// then every failure is one uniform error. No CipherReference, RetrievalMethod or
// AgreementMethod: nothing is ever fetched or dereferenced. EncryptedKeys are taken from the
// EncryptedData's KeyInfo and from the EncryptedAssertion's children (SAML core §2.2.4 allows
// both placements), at most MaxEncryptedKeys in all; each is tried with each config key.
func (v *validator) decryptAssertion(ea *etree.Element, outerIDs map[string]struct{}, out *Assertion) (*etree.Element, error) {
	if len(v.cfg.DecryptionKeys) == 0 {
		return nil, refuse(CodeInvalidResponse, "this config has no encryption keys, so it cannot accept an EncryptedAssertion")
	}
	p, err := parseEncryptedAssertion(ea, v.cfg.AllowLegacyEncryption)
	if err != nil {
		return nil, err
	}
	nsctx, err := etreeutils.NSBuildParentContext(ea.ChildElements()[0])
	if err != nil {
		return nil, refuseWrap(CodeInvalidResponse, err, "EncryptedAssertion: namespace context")
	}
	ctx := nsctx.Prefixes()
	for _, ek := range p.keys {
		for _, k := range orderKeys(v.cfg.DecryptionKeys, ek.certs) {
			cek, ok := unwrapKey(ek, k.Key, p.data.keyLen)
			if !ok {
				continue
			}
			plain, ok := p.open(cek)
			if !ok {
				continue
			}
			el, err := prefilterDecrypted(plain, ctx, outerIDs)
			if err != nil {
				if p.data.gcm {
					// Authenticated plaintext: whoever chose this content key already knows it,
					// so saying what is wrong with it reveals nothing.
					return nil, err
				}
				continue // CBC: a parse failure must look exactly like a padding failure
			}
			out.Encrypted, out.DecryptionKeyID = true, k.ID
			v.rep.pass("decrypt", "decrypted with encryption key %s (%s, %s)", quote(k.ID), algName(ek.alg), algName(p.dataAlg))
			return el, nil
		}
	}
	return nil, undecryptable()
}

func algName(uri string) string {
	if i := strings.LastIndexByte(uri, '#'); i >= 0 {
		return uri[i+1:]
	}
	return uri
}

// orderKeys puts the config keys whose certificate an EncryptedKey's KeyInfo names first (the
// usual case costs one RSA operation), then the others: every key is tried, the KeyInfo only
// decides the order.
func orderKeys(keys []DecryptionKey, named [][]byte) []DecryptionKey {
	out := make([]DecryptionKey, 0, len(keys))
	var rest []DecryptionKey
	for _, k := range keys {
		hit := false
		for _, der := range named {
			if k.Certificate != nil && bytes.Equal(der, k.Certificate.Raw) {
				hit = true
				break
			}
		}
		if hit {
			out = append(out, k)
		} else {
			rest = append(rest, k)
		}
	}
	return append(out, rest...)
}

// unwrapKey recovers the content-encryption key of length keyLen. With rsa-1_5 it follows RFC 3218
// §2.3.2: a random key stands in for an invalid padding, in constant time, so the failure only
// shows later as the same error as any other.
func unwrapKey(ek *encryptedKey, k *rsa.PrivateKey, keyLen int) ([]byte, bool) {
	if len(ek.cipher) != k.Size() {
		return nil, false // the length of the key is public; this key cannot have been used
	}
	if ek.alg == AlgRSA15 {
		cek := make([]byte, keyLen)
		if _, err := rand.Read(cek); err != nil {
			return nil, false
		}
		if err := rsa.DecryptPKCS1v15SessionKey(nil, k, ek.cipher, cek); err != nil {
			return nil, false
		}
		return cek, true
	}
	cek, err := k.Decrypt(rand.Reader, ek.cipher, &rsa.OAEPOptions{Hash: ek.hash, MGFHash: ek.mgf, Label: ek.label})
	if err != nil || len(cek) != keyLen {
		return nil, false
	}
	return cek, true
}

// open decrypts the EncryptedData ciphertext with cek. GCM: 12-byte IV, ciphertext, 16-byte tag
// (xmlenc-core1 §5.2.4). CBC: IV of one block, then whole blocks whose last plaintext byte is the
// padding length, 1..block size; the other padding bytes are arbitrary (xmlenc-core §5.2). Any
// length works: a short, empty or misaligned ciphertext is a failure, never a panic.
func (p *encryptedParts) open(cek []byte) ([]byte, bool) {
	if len(cek) != p.data.keyLen {
		return nil, false
	}
	block, err := p.data.newCipher(cek)
	if err != nil {
		return nil, false
	}
	c := p.cipher
	if p.data.gcm {
		aead, err := cipher.NewGCM(block)
		if err != nil || len(c) < gcmNonceSize+gcmTagSize {
			return nil, false
		}
		plain, err := aead.Open(nil, c[:gcmNonceSize], c[gcmNonceSize:], nil)
		return plain, err == nil
	}
	bs := block.BlockSize()
	if len(c) < 2*bs || len(c)%bs != 0 {
		return nil, false
	}
	plain := make([]byte, len(c)-bs)
	cipher.NewCBCDecrypter(block, c[:bs]).CryptBlocks(plain, c[bs:])
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > bs {
		return nil, false
	}
	return plain[:len(plain)-pad], true
}

// encErr is a refusal of the EncryptedAssertion's shape (before any cryptography: saying what is
// wrong reveals nothing about keys or plaintext).
func encErr(format string, args ...any) *Error {
	return refuse(CodeInvalidResponse, "EncryptedAssertion: "+format, args...)
}

// encOnlyAttrs refuses any attribute of el other than namespace declarations and allowed names.
func encOnlyAttrs(el *etree.Element, allowed ...string) error {
	for _, a := range el.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		ok := false
		for _, n := range allowed {
			ok = ok || (a.Space == "" && a.Key == n)
		}
		if !ok {
			return encErr("unexpected attribute %s on %s", quote(a.FullKey()), el.Tag)
		}
	}
	return nil
}

// encText returns el's character data, refusing comments or elements inside it (a comment in a
// CipherValue is a parser differential).
func encText(el *etree.Element) (string, error) {
	var b strings.Builder
	for _, t := range el.Child {
		cd, ok := t.(*etree.CharData)
		if !ok {
			return "", encErr("%s must contain only text", el.Tag)
		}
		b.WriteString(cd.Data)
	}
	return b.String(), nil
}

// encBase64 decodes xs:base64Binary text: XML whitespace anywhere, then strict standard base64.
func encBase64(el *etree.Element) ([]byte, error) {
	s, err := encText(el)
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.Strict().DecodeString(stripSpace(s))
	if err != nil {
		return nil, encErr("%s is not base64", el.Tag)
	}
	return b, nil
}

// forbidden names the elements that would make a decrypter fetch or dereference something, so
// their refusal says why.
func forbidden(el *etree.Element) error {
	switch {
	case is(el, NSXMLEnc, "CipherReference"):
		return encErr("CipherReference is not accepted (the ciphertext must be inline)")
	case is(el, NSDSig, "RetrievalMethod"):
		return encErr("RetrievalMethod is not accepted (keys must be inline)")
	case is(el, NSXMLEnc, "AgreementMethod"):
		return encErr("AgreementMethod is not accepted (key transport must be RSA-OAEP)")
	}
	return nil
}

// parseEncryptedAssertion checks the EncryptedAssertion against this profile and returns what
// decryption needs. Shape (saml-core §2.2.4, xmlenc-core §3):
//
//	EncryptedAssertion: EncryptedData, EncryptedKey*
//	EncryptedData[@Id, @Type=#Element]: EncryptionMethod, ds:KeyInfo?, CipherData
//	  ds:KeyInfo: (xenc:EncryptedKey | ds:KeyName)*
//	EncryptedKey[@Id, @Recipient]: EncryptionMethod, ds:KeyInfo?, CipherData, ReferenceList?, CarriedKeyName?
//	  EncryptionMethod: ds:DigestMethod?, xenc:OAEPparams?, xenc11:MGF? (rsa-1_5: empty)
//	  ds:KeyInfo: (ds:X509Data | ds:KeyName | ds:KeyValue)*
//	CipherData: CipherValue (base64)
//
// EncryptionProperties, KeySize, MimeType and Encoding are refused.
func parseEncryptedAssertion(ea *etree.Element, allowLegacy bool) (*encryptedParts, error) {
	if err := encOnlyAttrs(ea); err != nil {
		return nil, err
	}
	kids := ea.ChildElements()
	if len(kids) == 0 || !is(kids[0], NSXMLEnc, "EncryptedData") {
		return nil, encErr("the first child must be xenc:EncryptedData")
	}
	p := &encryptedParts{}
	if err := p.parseData(kids[0], allowLegacy); err != nil {
		return nil, err
	}
	for _, k := range kids[1:] {
		if !is(k, NSXMLEnc, "EncryptedKey") {
			return nil, encErr("unexpected %s (only xenc:EncryptedData then xenc:EncryptedKey)", quote(k.FullTag()))
		}
		if err := p.addKey(k, allowLegacy); err != nil {
			return nil, err
		}
	}
	if len(p.keys) == 0 {
		return nil, encErr("no xenc:EncryptedKey (in EncryptedData's KeyInfo or beside it)")
	}
	return p, nil
}

func (p *encryptedParts) parseData(ed *etree.Element, allowLegacy bool) error {
	if err := encOnlyAttrs(ed, "Id", "Type"); err != nil {
		return err
	}
	if t, ok := attr(ed, "Type"); ok && t != typeElement {
		return encErr("EncryptedData Type must be %s, got %s", typeElement, quote(t))
	}
	kids := ed.ChildElements()
	i := 0
	next := func(ns, local string) *etree.Element {
		if i < len(kids) && is(kids[i], ns, local) {
			i++
			return kids[i-1]
		}
		return nil
	}
	em := next(NSXMLEnc, "EncryptionMethod")
	if em == nil {
		return encErr("EncryptedData must start with an EncryptionMethod")
	}
	if err := encOnlyAttrs(em, "Algorithm"); err != nil {
		return err
	}
	alg, _ := attr(em, "Algorithm")
	da, ok := dataAlgorithms[alg]
	if !ok {
		return encErr("data encryption %s is not accepted (aes128-gcm or aes256-gcm)", quote(alg))
	}
	if da.legacy && !allowLegacy {
		return encErr("data encryption %s is a legacy algorithm this config does not allow (allowLegacyEncryption)", quote(algName(alg)))
	}
	if len(em.ChildElements()) != 0 {
		return encErr("the data EncryptionMethod must be empty")
	}
	p.dataAlg, p.data = alg, da
	if ki := next(NSDSig, "KeyInfo"); ki != nil {
		if err := encOnlyAttrs(ki, "Id"); err != nil {
			return err
		}
		for _, k := range ki.ChildElements() {
			if err := forbidden(k); err != nil {
				return err
			}
			switch {
			case is(k, NSXMLEnc, "EncryptedKey"):
				if err := p.addKey(k, allowLegacy); err != nil {
					return err
				}
			case is(k, NSDSig, "KeyName"):
			default:
				return encErr("%s is not accepted in the EncryptedData's KeyInfo", quote(k.FullTag()))
			}
		}
	}
	cd := next(NSXMLEnc, "CipherData")
	if cd == nil {
		if i < len(kids) {
			if err := forbidden(kids[i]); err != nil {
				return err
			}
			return encErr("unexpected %s in EncryptedData", quote(kids[i].FullTag()))
		}
		return encErr("EncryptedData has no CipherData")
	}
	if i != len(kids) {
		return encErr("unexpected %s after CipherData (EncryptionProperties are not accepted)", quote(kids[i].FullTag()))
	}
	c, err := cipherValue(cd)
	if err != nil {
		return err
	}
	p.cipher = c
	return nil
}

// cipherValue reads CipherData's one CipherValue.
func cipherValue(cd *etree.Element) ([]byte, error) {
	if err := encOnlyAttrs(cd); err != nil {
		return nil, err
	}
	kids := cd.ChildElements()
	if len(kids) != 1 {
		return nil, encErr("CipherData must contain exactly one CipherValue")
	}
	if err := forbidden(kids[0]); err != nil {
		return nil, err
	}
	if !is(kids[0], NSXMLEnc, "CipherValue") {
		return nil, encErr("CipherData must contain exactly one CipherValue")
	}
	if err := encOnlyAttrs(kids[0]); err != nil {
		return nil, err
	}
	b, err := encBase64(kids[0])
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, encErr("CipherValue is empty")
	}
	return b, nil
}

func (p *encryptedParts) addKey(el *etree.Element, allowLegacy bool) error {
	if len(p.keys) >= MaxEncryptedKeys {
		return encErr("more than %d EncryptedKeys", MaxEncryptedKeys)
	}
	if err := encOnlyAttrs(el, "Id", "Recipient"); err != nil {
		return err
	}
	ek := &encryptedKey{}
	kids := el.ChildElements()
	i := 0
	next := func(ns, local string) *etree.Element {
		if i < len(kids) && is(kids[i], ns, local) {
			i++
			return kids[i-1]
		}
		return nil
	}
	em := next(NSXMLEnc, "EncryptionMethod")
	if em == nil {
		return encErr("EncryptedKey must start with an EncryptionMethod")
	}
	if err := ek.parseMethod(em, allowLegacy); err != nil {
		return err
	}
	if ki := next(NSDSig, "KeyInfo"); ki != nil {
		if err := ek.parseKeyInfo(ki); err != nil {
			return err
		}
	}
	cd := next(NSXMLEnc, "CipherData")
	if cd == nil {
		if i < len(kids) {
			if err := forbidden(kids[i]); err != nil {
				return err
			}
			return encErr("unexpected %s in EncryptedKey", quote(kids[i].FullTag()))
		}
		return encErr("EncryptedKey has no CipherData")
	}
	c, err := cipherValue(cd)
	if err != nil {
		return err
	}
	if len(c) > maxWrappedKeyBytes {
		return encErr("EncryptedKey CipherValue is %d bytes, longer than any accepted RSA key", len(c))
	}
	ek.cipher = c
	if rl := next(NSXMLEnc, "ReferenceList"); rl != nil {
		// Informational only: the one EncryptedData is the only thing any key here can decrypt.
		if err := encOnlyAttrs(rl); err != nil {
			return err
		}
		for _, r := range rl.ChildElements() {
			if !is(r, NSXMLEnc, "DataReference") || len(r.ChildElements()) != 0 {
				return encErr("ReferenceList may only contain empty DataReferences")
			}
			if err := encOnlyAttrs(r, "URI"); err != nil {
				return err
			}
		}
	}
	if ckn := next(NSXMLEnc, "CarriedKeyName"); ckn != nil {
		if _, err := encText(ckn); err != nil {
			return err
		}
	}
	if i != len(kids) {
		return encErr("unexpected %s in EncryptedKey (EncryptionProperties are not accepted)", quote(kids[i].FullTag()))
	}
	p.keys = append(p.keys, ek)
	return nil
}

// parseMethod reads a key-transport EncryptionMethod: rsa-oaep-mgf1p (MGF1-SHA-1 fixed, optional
// DigestMethod and OAEPparams), xmlenc11 rsa-oaep (optional DigestMethod, MGF, OAEPparams), or,
// when legacy is allowed, rsa-1_5 (no parameters). Each parameter at most once.
func (ek *encryptedKey) parseMethod(em *etree.Element, allowLegacy bool) error {
	if err := encOnlyAttrs(em, "Algorithm"); err != nil {
		return err
	}
	ek.alg, _ = attr(em, "Algorithm")
	switch ek.alg {
	case AlgRSAOAEPMGF1P, AlgRSAOAEP:
	case AlgRSA15:
		if !allowLegacy {
			return encErr("key transport rsa-1_5 is a legacy algorithm this config does not allow (allowLegacyEncryption)")
		}
		if len(em.ChildElements()) != 0 {
			return encErr("rsa-1_5 EncryptionMethod takes no parameters")
		}
		return nil
	default:
		return encErr("key transport %s is not accepted (rsa-oaep-mgf1p or xmlenc11 rsa-oaep)", quote(ek.alg))
	}
	ek.hash, ek.mgf = crypto.SHA1, crypto.SHA1
	var seenDigest, seenMGF, seenParams bool
	for _, k := range em.ChildElements() {
		switch {
		case is(k, NSDSig, "DigestMethod") && !seenDigest:
			seenDigest = true
			if err := encOnlyAttrs(k, "Algorithm"); err != nil {
				return err
			}
			d, _ := attr(k, "Algorithm")
			h, ok := oaepDigests[d]
			if !ok || len(k.ChildElements()) != 0 {
				return encErr("OAEP DigestMethod %s is not accepted (SHA-1, SHA-256, SHA-384, SHA-512)", quote(d))
			}
			ek.hash = h
		case is(k, NSXMLEnc11, "MGF") && !seenMGF && ek.alg == AlgRSAOAEP:
			seenMGF = true
			if err := encOnlyAttrs(k, "Algorithm"); err != nil {
				return err
			}
			m, _ := attr(k, "Algorithm")
			h, ok := mgfHashes[m]
			if !ok || len(k.ChildElements()) != 0 {
				return encErr("MGF %s is not accepted (MGF1 with SHA-1/224/256/384/512)", quote(m))
			}
			ek.mgf = h
		case is(k, NSXMLEnc, "OAEPparams") && !seenParams:
			seenParams = true
			if err := encOnlyAttrs(k); err != nil {
				return err
			}
			l, err := encBase64(k)
			if err != nil {
				return err
			}
			if len(l) > maxOAEPLabelBytes {
				return encErr("OAEPparams longer than %d bytes", maxOAEPLabelBytes)
			}
			ek.label = l
		default:
			return encErr("unexpected %s in the key transport EncryptionMethod (at most one DigestMethod and OAEPparams, and an MGF only for xmlenc11 rsa-oaep: rsa-oaep-mgf1p fixes MGF1-SHA-1)", quote(k.FullTag()))
		}
	}
	return nil
}

// parseKeyInfo reads an EncryptedKey's KeyInfo: certificates (compared with the config's to
// order the keys, never trusted or parsed), key names and key values are tolerated; anything
// that would be fetched or unwrapped is refused.
func (ek *encryptedKey) parseKeyInfo(ki *etree.Element) error {
	if err := encOnlyAttrs(ki, "Id"); err != nil {
		return err
	}
	for _, k := range ki.ChildElements() {
		if err := forbidden(k); err != nil {
			return err
		}
		switch {
		case is(k, NSDSig, "X509Data"):
			for _, x := range k.ChildElements() {
				if !is(x, NSDSig, "X509Certificate") || len(ek.certs) >= maxKeyInfoCer {
					continue
				}
				txt := stripSpace(x.Text())
				if len(txt) > MaxKeyInfoCertificateLength {
					return encErr("KeyInfo certificate longer than %d characters", MaxKeyInfoCertificateLength)
				}
				if der, err := base64.StdEncoding.DecodeString(txt); err == nil {
					ek.certs = append(ek.certs, der)
				}
			}
		case is(k, NSDSig, "KeyName"), is(k, NSDSig, "KeyValue"):
		case is(k, NSXMLEnc, "EncryptedKey"):
			return encErr("an EncryptedKey wrapped in another EncryptedKey is not accepted")
		default:
			return encErr("%s is not accepted in an EncryptedKey's KeyInfo", quote(k.FullTag()))
		}
	}
	return nil
}
