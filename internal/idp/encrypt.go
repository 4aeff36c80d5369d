package idp

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // MGF1-SHA-1 of rsa-oaep-mgf1p
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// KeyTransport names how the test IdP wraps the content key to the SP's certificate.
type KeyTransport string

// DataEncryption names the block cipher the test IdP encrypts the Assertion with.
type DataEncryption string

// The algorithms EncryptTo offers. The defaults are what s3fed accepts out of the box; the
// legacy ones (rsa-1_5, CBC, 3DES) exist so a config's allowLegacyEncryption opt-in can be
// tried against something, as an old IdP would send it.
const (
	// KeyTransportRSAOAEP is xmlenc11#rsa-oaep with a SHA-256 digest and MGF1-SHA-256.
	KeyTransportRSAOAEP KeyTransport = "rsa-oaep"
	// KeyTransportRSAOAEPMGF1P is xmlenc#rsa-oaep-mgf1p (SHA-1 digest, MGF1-SHA-1), what most
	// IdPs send.
	KeyTransportRSAOAEPMGF1P KeyTransport = "rsa-oaep-mgf1p"
	// KeyTransportRSA15 is xmlenc#rsa-1_5 (legacy).
	KeyTransportRSA15 KeyTransport = "rsa-1_5"

	DataAES128GCM    DataEncryption = "aes128-gcm"
	DataAES256GCM    DataEncryption = "aes256-gcm"
	DataAES128CBC    DataEncryption = "aes128-cbc"    // legacy
	DataAES192CBC    DataEncryption = "aes192-cbc"    // legacy
	DataAES256CBC    DataEncryption = "aes256-cbc"    // legacy
	DataTripleDESCBC DataEncryption = "tripledes-cbc" // legacy

	DefaultKeyTransport   = KeyTransportRSAOAEP
	DefaultDataEncryption = DataAES256GCM
)

// KeyTransports and DataEncryptions list every choice, in the order the CLI documents them.
var (
	KeyTransports   = []KeyTransport{KeyTransportRSAOAEP, KeyTransportRSAOAEPMGF1P, KeyTransportRSA15}
	DataEncryptions = []DataEncryption{DataAES256GCM, DataAES128GCM, DataAES256CBC, DataAES192CBC, DataAES128CBC, DataTripleDESCBC}
)

// XML Encryption names (xmlenc-core, xmlenc-core1).
const (
	nsXMLEnc     = "http://www.w3.org/2001/04/xmlenc#"
	nsXMLEnc11   = "http://www.w3.org/2009/xmlenc11#"
	nsDSig       = "http://www.w3.org/2000/09/xmldsig#"
	xencElement  = nsXMLEnc + "Element"
	digestSHA1   = "http://www.w3.org/2000/09/xmldsig#sha1"
	digestSHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
	mgf1SHA256   = nsXMLEnc11 + "mgf1sha256"
)

type dataCipher struct {
	uri    string
	keyLen int
	gcm    bool
	block  func([]byte) (cipher.Block, error)
}

var dataCiphers = map[DataEncryption]dataCipher{
	DataAES128GCM:    {nsXMLEnc11 + "aes128-gcm", 16, true, aes.NewCipher},
	DataAES256GCM:    {nsXMLEnc11 + "aes256-gcm", 32, true, aes.NewCipher},
	DataAES128CBC:    {nsXMLEnc + "aes128-cbc", 16, false, aes.NewCipher},
	DataAES192CBC:    {nsXMLEnc + "aes192-cbc", 24, false, aes.NewCipher},
	DataAES256CBC:    {nsXMLEnc + "aes256-cbc", 32, false, aes.NewCipher},
	DataTripleDESCBC: {nsXMLEnc + "tripledes-cbc", 24, false, des.NewTripleDESCipher},
}

// encryption is a resolved EncryptTo request.
type encryption struct {
	pub  *rsa.PublicKey
	cert *x509.Certificate
	kt   KeyTransport
	data dataCipher
}

func resolveEncryption(o SignOptions) (*encryption, error) {
	if o.EncryptTo == nil {
		if o.KeyTransport != "" || o.DataEncryption != "" {
			return nil, errors.New("idp sign: key transport and data encryption need a certificate to encrypt to")
		}
		return nil, nil
	}
	pub, ok := o.EncryptTo.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("idp sign: the encryption certificate has a %T key; SAML key transport needs RSA", o.EncryptTo.PublicKey)
	}
	if n := pub.N.BitLen(); n < 2048 || n > 8192 {
		return nil, fmt.Errorf("idp sign: the encryption certificate's key is RSA-%d; 2048 to 8192 bits are supported", n)
	}
	e := &encryption{pub: pub, cert: o.EncryptTo, kt: o.KeyTransport}
	if e.kt == "" {
		e.kt = DefaultKeyTransport
	}
	switch e.kt {
	case KeyTransportRSAOAEP, KeyTransportRSAOAEPMGF1P, KeyTransportRSA15:
	default:
		return nil, fmt.Errorf("idp sign: unknown key transport %q (want %s)", o.KeyTransport, joinNames(KeyTransports))
	}
	de := o.DataEncryption
	if de == "" {
		de = DefaultDataEncryption
	}
	if e.data, ok = dataCiphers[de]; !ok {
		return nil, fmt.Errorf("idp sign: unknown data encryption %q (want %s)", o.DataEncryption, joinNames(DataEncryptions))
	}
	return e, nil
}

func joinNames[T ~string](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}

// encryptAssertion replaces assertion (a child of resp) with a saml:EncryptedAssertion: the
// Assertion is serialised as a standalone element carrying every namespace declaration in scope
// (as IdPs marshal it before encrypting), encrypted with a fresh content key, and the content
// key is wrapped to the SP certificate in an EncryptedKey inside the EncryptedData's KeyInfo
// (SAML core §2.2.4's inline placement), with the certificate named in the EncryptedKey's
// KeyInfo so the SP can pick its key.
func encryptAssertion(resp, assertion *etree.Element, e *encryption, ws etree.WriteSettings) error {
	parent, err := etreeutils.NSBuildParentContext(assertion)
	if err != nil {
		return fmt.Errorf("namespace context: %w", err)
	}
	detached, err := etreeutils.NSDetatch(parent, assertion)
	if err != nil {
		return fmt.Errorf("detach for encryption: %w", err)
	}
	pdoc := etree.NewDocument()
	pdoc.WriteSettings = ws
	pdoc.SetRoot(detached)
	plain, err := pdoc.WriteToBytes()
	if err != nil {
		return fmt.Errorf("serialise assertion: %w", err)
	}
	cek := make([]byte, e.data.keyLen)
	if _, err := rand.Read(cek); err != nil {
		return fmt.Errorf("content key: %w", err)
	}
	ct, err := encryptData(e.data, cek, plain, rand.Reader)
	if err != nil {
		return err
	}
	wrapped, err := e.wrap(cek)
	if err != nil {
		return err
	}

	ea := etree.NewElement("saml:EncryptedAssertion")
	ed := ea.CreateElement("xenc:EncryptedData")
	ed.CreateAttr("xmlns:xenc", nsXMLEnc)
	edID, err := idOr("")
	if err != nil {
		return err
	}
	ed.CreateAttr("Id", edID)
	ed.CreateAttr("Type", xencElement)
	ed.CreateElement("xenc:EncryptionMethod").CreateAttr("Algorithm", e.data.uri)
	ki := ed.CreateElement("ds:KeyInfo")
	ki.CreateAttr("xmlns:ds", nsDSig)
	ek := ki.CreateElement("xenc:EncryptedKey")
	em := ek.CreateElement("xenc:EncryptionMethod")
	switch e.kt {
	case KeyTransportRSAOAEP:
		em.CreateAttr("Algorithm", nsXMLEnc11+"rsa-oaep")
		em.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", digestSHA256)
		mgf := em.CreateElement("xenc11:MGF")
		mgf.CreateAttr("xmlns:xenc11", nsXMLEnc11)
		mgf.CreateAttr("Algorithm", mgf1SHA256)
	case KeyTransportRSAOAEPMGF1P:
		em.CreateAttr("Algorithm", nsXMLEnc+"rsa-oaep-mgf1p")
		em.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", digestSHA1)
	case KeyTransportRSA15:
		em.CreateAttr("Algorithm", nsXMLEnc+"rsa-1_5")
	}
	ek.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(e.cert.Raw))
	ek.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(wrapped))
	ed.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(ct))

	resp.InsertChildAt(assertion.Index(), ea)
	resp.RemoveChild(assertion)
	return nil
}

// wrap encrypts the content key to the SP's public key.
func (e *encryption) wrap(cek []byte) ([]byte, error) {
	var out []byte
	var err error
	switch e.kt {
	case KeyTransportRSA15:
		out, err = rsa.EncryptPKCS1v15(rand.Reader, e.pub, cek)
	case KeyTransportRSAOAEPMGF1P:
		out, err = rsa.EncryptOAEP(crypto.SHA1.New(), rand.Reader, e.pub, cek, nil)
	default:
		out, err = rsa.EncryptOAEPWithOptions(rand.Reader, e.pub, cek, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256})
	}
	if err != nil {
		return nil, fmt.Errorf("wrap content key: %w", err)
	}
	return out, nil
}

// encryptData encrypts plain as XML Encryption lays it out: GCM as a 12-byte IV, the ciphertext
// and the 16-byte tag (xmlenc-core1 §5.2.4); CBC as a one-block IV and the ciphertext of the
// plaintext padded to whole blocks with random bytes whose last byte is the padding length
// (xmlenc-core §5.2).
func encryptData(c dataCipher, cek, plain []byte, rnd io.Reader) ([]byte, error) {
	block, err := c.block(cek)
	if err != nil {
		return nil, fmt.Errorf("data cipher: %w", err)
	}
	if c.gcm {
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("data cipher: %w", err)
		}
		iv := make([]byte, aead.NonceSize())
		if _, err := io.ReadFull(rnd, iv); err != nil {
			return nil, fmt.Errorf("iv: %w", err)
		}
		return aead.Seal(iv, iv, plain, nil), nil
	}
	bs := block.BlockSize()
	n := bs - len(plain)%bs
	padded := make([]byte, len(plain)+n)
	copy(padded, plain)
	if _, err := io.ReadFull(rnd, padded[len(plain):]); err != nil {
		return nil, fmt.Errorf("padding: %w", err)
	}
	padded[len(padded)-1] = byte(n)
	out := make([]byte, bs+len(padded))
	if _, err := io.ReadFull(rnd, out[:bs]); err != nil {
		return nil, fmt.Errorf("iv: %w", err)
	}
	cipher.NewCBCEncrypter(block, out[:bs]).CryptBlocks(out[bs:], padded)
	return out, nil
}
