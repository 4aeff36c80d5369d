package saml

// The package's own XML Encryption fixture builder: it replaces a Response's Assertion with an
// EncryptedAssertion whose every knob can be turned wrong (algorithms, placement of the
// EncryptedKey, the plaintext, the ciphertext bytes, the wrapped key). Independent producers
// (xmlsec1, python3-xmlsec) are exercised in internal/idp's interop tests.

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
)

// encKeyPair is an SP encryption key with its certificate, as a config holds it.
type encKeyPair struct {
	id   string
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

func (k *encKeyPair) dk() DecryptionKey {
	return DecryptionKey{ID: k.id, Key: k.key, Certificate: k.cert}
}

var (
	encKeysOnce                   sync.Once
	encKey, encKey2, enc3k, enc4k *encKeyPair
)

func encKeys(t testing.TB) {
	keys(t)
	encKeysOnce.Do(func() {
		nb, na := tNow.Add(-24*time.Hour), tNow.Add(365*24*time.Hour)
		load := func(file, id string) *encKeyPair {
			tk := newTestKey(t, file, "s3fed encryption "+id, nb, na)
			return &encKeyPair{id: id, key: tk.key.(*rsa.PrivateKey), cert: tk.cert}
		}
		encKey = load("enc.pem", "key-1")
		encKey2 = load("enc2.pem", "key-2")
		enc3k = load("enc3072.pem", "key-3072")
		enc4k = load("enc4096.pem", "key-4096")
	})
	if encKey == nil || enc4k == nil {
		t.Fatal("encryption test keys not loaded")
	}
}

// encConfig is testConfig with the encryption keys ks (default: encKey).
func encConfig(t testing.TB, ks ...*encKeyPair) *Config {
	encKeys(t)
	c := testConfig(t)
	if len(ks) == 0 {
		ks = []*encKeyPair{encKey}
	}
	for _, k := range ks {
		c.DecryptionKeys = append(c.DecryptionKeys, k.dk())
	}
	return c
}

// encOpts controls encryptAssertion. The zero value is what s3fed accepts by default:
// rsa-oaep-mgf1p to encKey, aes256-gcm, EncryptedKey inside the EncryptedData's KeyInfo naming
// the certificate.
type encOpts struct {
	to            *encKeyPair
	keyTransport  string
	digest, mgf   string // DigestMethod / MGF Algorithm of the key transport (empty: omitted)
	oaepLabel     []byte
	dataAlg       string
	sibling       bool   // EncryptedKey as a child of EncryptedAssertion, after EncryptedData
	noKeyInfoX509 bool   // EncryptedKey without KeyInfo
	plaintext     []byte // replaces the serialised Assertion
	cek           []byte // content key (default random of the right size)
	// cipherEdit changes the data ciphertext (IV || ciphertext || tag) before encoding;
	// keyEdit changes the wrapped key.
	cipherEdit, keyEdit func([]byte) []byte
	// edit runs on the finished EncryptedAssertion.
	edit func(ea *etree.Element)
}

var dataKeyLens = map[string]int{AlgAES128GCM: 16, AlgAES256GCM: 32, AlgAES128CBC: 16, AlgAES192CBC: 24,
	AlgAES256CBC: 32, AlgTripleDESCBC: 24, NSXMLEnc11 + "aes192-gcm": 24}

var testHashes = map[string]crypto.Hash{"": crypto.SHA1, algDigestSHA1: crypto.SHA1, algDigest256: crypto.SHA256,
	algDigest384: crypto.SHA384, algDigest512: crypto.SHA512, algMGF1SHA1: crypto.SHA1, algMGF1SHA224: crypto.SHA224,
	algMGF1SHA256: crypto.SHA256, algMGF1SHA384: crypto.SHA384, algMGF1SHA512: crypto.SHA512}

// serializeAssertion writes el as a standalone document carrying every namespace declaration
// in scope, as IdPs serialise an Assertion before encrypting it.
func serializeAssertion(t testing.TB, el *etree.Element) []byte {
	t.Helper()
	d, err := detach(el)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(d)
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// encryptBytes encrypts plain with alg and cek: GCM as IV || ciphertext || tag, CBC as IV ||
// ciphertext with xmlenc padding (random bytes, last byte the length).
func encryptBytes(t testing.TB, alg string, cek, plain []byte) []byte {
	t.Helper()
	var block cipher.Block
	var err error
	if alg == AlgTripleDESCBC {
		block, err = des.NewTripleDESCipher(cek)
	} else {
		block, err = aes.NewCipher(cek)
	}
	if err != nil {
		t.Fatal(err)
	}
	switch alg {
	case AlgAES128GCM, AlgAES256GCM, NSXMLEnc11 + "aes192-gcm":
		g, err := cipher.NewGCM(block)
		if err != nil {
			t.Fatal(err)
		}
		iv := make([]byte, 12)
		_, _ = rand.Read(iv)
		return g.Seal(iv, iv, plain, nil)
	default:
		bs := block.BlockSize()
		n := bs - len(plain)%bs
		pad := make([]byte, n)
		_, _ = rand.Read(pad)
		pad[n-1] = byte(n)
		p := append(append([]byte{}, plain...), pad...)
		out := make([]byte, bs+len(p))
		_, _ = rand.Read(out[:bs])
		cipher.NewCBCEncrypter(block, out[:bs]).CryptBlocks(out[bs:], p)
		return out
	}
}

// wrapKey encrypts cek to pub with the key transport of o.
func wrapKey(t testing.TB, o encOpts, pub *rsa.PublicKey, cek []byte) []byte {
	t.Helper()
	var out []byte
	var err error
	switch o.keyTransport {
	case AlgRSA15:
		out, err = rsa.EncryptPKCS1v15(rand.Reader, pub, cek)
	default:
		h, mgf := testHashes[o.digest], testHashes[o.mgf]
		if o.keyTransport == AlgRSAOAEPMGF1P || mgf == 0 {
			mgf = crypto.SHA1
		}
		if h == 0 {
			h = crypto.SHA1 // an algorithm the validator must refuse by name
		}
		out, err = rsa.EncryptOAEPWithOptions(rand.Reader, pub, cek, &rsa.OAEPOptions{Hash: h, MGFHash: mgf, Label: o.oaepLabel})
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// buildEncryptedAssertion returns a saml:EncryptedAssertion for plain as o says.
func buildEncryptedAssertion(t testing.TB, plain []byte, o encOpts) *etree.Element {
	t.Helper()
	encKeys(t)
	if o.to == nil {
		o.to = encKey
	}
	if o.keyTransport == "" {
		o.keyTransport = AlgRSAOAEPMGF1P
	}
	if o.dataAlg == "" {
		o.dataAlg = AlgAES256GCM
	}
	if o.plaintext != nil {
		plain = o.plaintext
	}
	cek := o.cek
	if cek == nil {
		cek = make([]byte, dataKeyLens[o.dataAlg])
		_, _ = rand.Read(cek)
	}
	ct := encryptBytes(t, o.dataAlg, cek, plain)
	if o.cipherEdit != nil {
		ct = o.cipherEdit(ct)
	}
	wk := wrapKey(t, o, &o.to.key.PublicKey, cek)
	if o.keyEdit != nil {
		wk = o.keyEdit(wk)
	}

	ea := etree.NewElement("saml:EncryptedAssertion")
	ed := ea.CreateElement("xenc:EncryptedData")
	ed.CreateAttr("xmlns:xenc", NSXMLEnc)
	ed.CreateAttr("Id", "_ed"+randHex())
	ed.CreateAttr("Type", typeElement)
	ed.CreateElement("xenc:EncryptionMethod").CreateAttr("Algorithm", o.dataAlg)
	ek := etree.NewElement("xenc:EncryptedKey")
	ek.CreateAttr("xmlns:xenc", NSXMLEnc)
	em := ek.CreateElement("xenc:EncryptionMethod")
	em.CreateAttr("Algorithm", o.keyTransport)
	if o.digest != "" {
		dm := em.CreateElement("ds:DigestMethod")
		dm.CreateAttr("xmlns:ds", NSDSig)
		dm.CreateAttr("Algorithm", o.digest)
	}
	if o.mgf != "" {
		m := em.CreateElement("xenc11:MGF")
		m.CreateAttr("xmlns:xenc11", NSXMLEnc11)
		m.CreateAttr("Algorithm", o.mgf)
	}
	if o.oaepLabel != nil {
		em.CreateElement("xenc:OAEPparams").SetText(base64.StdEncoding.EncodeToString(o.oaepLabel))
	}
	if !o.noKeyInfoX509 {
		ki := ek.CreateElement("ds:KeyInfo")
		ki.CreateAttr("xmlns:ds", NSDSig)
		ki.CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(o.to.cert.Raw))
	}
	ek.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(wrap76(base64.StdEncoding.EncodeToString(wk)))
	if o.sibling {
		ed.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(wrap76(base64.StdEncoding.EncodeToString(ct)))
		ea.AddChild(ek)
	} else {
		ki := ed.CreateElement("ds:KeyInfo")
		ki.CreateAttr("xmlns:ds", NSDSig)
		ki.AddChild(ek)
		ed.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(wrap76(base64.StdEncoding.EncodeToString(ct)))
	}
	if o.edit != nil {
		o.edit(ea)
	}
	return ea
}

// encryptInPlace replaces the Assertion a (a child of r) with its EncryptedAssertion.
func encryptInPlace(t testing.TB, r, a *etree.Element, o encOpts) *etree.Element {
	t.Helper()
	ea := buildEncryptedAssertion(t, serializeAssertion(t, a), o)
	r.InsertChildAt(a.Index(), ea)
	r.RemoveChild(a)
	return ea
}

// xmlOfEnc builds r, signs the Assertion if h says so, encrypts it as o says, then signs the
// Response if h says so (covering the EncryptedAssertion, as IdPs do), and serialises.
func xmlOfEnc(t testing.TB, r resp, h how, o encOpts) []byte {
	t.Helper()
	encKeys(t)
	doc, re, a := r.build()
	if h.asrt != nil {
		sign(t, a, *h.asrt)
	}
	encryptInPlace(t, re, a, o)
	if h.resp != nil {
		sign(t, re, *h.resp)
	}
	return serialize(t, doc)
}

// plainAssertion returns a serialised, standalone Assertion of r signed as h (h.resp ignored),
// for tests that encrypt hand-made plaintext.
func plainAssertion(t testing.TB, r resp, h how) []byte {
	t.Helper()
	_, _, a := r.build()
	if h.asrt != nil {
		sign(t, a, *h.asrt)
	}
	return serializeAssertion(t, a)
}
