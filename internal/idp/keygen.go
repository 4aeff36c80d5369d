// Package idp is s3fed's built-in test identity provider.
//
// It exists so that an operator can try a federation setup, and the test suite
// can exercise the exchange end to end, without a real IdP: Keygen makes a
// self-signed signing certificate that a SAML federation config accepts, and
// Sign builds and signs a SAML 2.0 Response shaped like the ones real IdPs
// (Okta, Entra ID, the CoreWeave documentation's seed example) send. It is a
// signer only; nothing in the server trusts it, and it never verifies anything.
package idp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"
)

// KeyType names a signing key kind the test IdP can generate. The set is the
// intersection of what a federation config accepts (API.md: RSA 2048–8192 bits
// or ECDSA P-256/P-384) and what real IdPs commonly use.
type KeyType string

// The key types Keygen supports.
const (
	KeyRSA2048   KeyType = "rsa2048"
	KeyRSA3072   KeyType = "rsa3072"
	KeyRSA4096   KeyType = "rsa4096"
	KeyECDSAP256 KeyType = "ecdsa-p256"
)

// KeyTypes lists every supported KeyType, in the order the CLI documents them.
var KeyTypes = []KeyType{KeyRSA2048, KeyRSA3072, KeyRSA4096, KeyECDSAP256}

// Limits and defaults of Keygen. A federation config refuses a certificate
// whose notAfter is more than 14 years ahead (API.md), so MaxValidity keeps
// every generated certificate uploadable.
const (
	// DefaultCommonName is the certificate CN and, through DefaultIssuer,
	// the SAML Issuer the test IdP uses when none is given.
	DefaultCommonName = "s3fed-test-idp"
	// DefaultValidity is how long a generated certificate is valid.
	DefaultValidity = 365 * 24 * time.Hour
	// MaxValidity is the longest validity Keygen accepts (14 years of 365
	// days; a few days short of API.md's calendar limit, never over it).
	MaxValidity = 14 * 365 * 24 * time.Hour
	// MaxCommonNameBytes is the X.520 upper bound for a CommonName.
	MaxCommonNameBytes = 64
	// backdate moves notBefore into the past so a verifier whose clock lags
	// the generating machine's still sees the certificate as valid.
	backdate = 5 * time.Minute
)

// KeygenOptions configures Keygen. The zero value makes an RSA-2048
// certificate with CN DefaultCommonName valid for DefaultValidity.
type KeygenOptions struct {
	// KeyType is the key to generate; empty means KeyRSA2048.
	KeyType KeyType
	// CommonName is the certificate subject CN; empty means
	// DefaultCommonName. At most MaxCommonNameBytes bytes of printable UTF-8.
	CommonName string
	// Validity is the time from now to notAfter; zero means
	// DefaultValidity. It must be positive and at most MaxValidity.
	Validity time.Duration
	// Now is the clock; nil means time.Now. Tests pin it.
	Now func() time.Time
}

// Keygen makes a fresh self-signed signing certificate and its private key,
// both PEM encoded (the key as PKCS#8 "PRIVATE KEY", which xmlsec1,
// python3-saml and Go all read). The certificate is what an admin uploads as
// a SAML config's x509Certificate; the key is what Sign uses.
func Keygen(opts KeygenOptions) (certPEM, keyPEM []byte, err error) {
	kt := opts.KeyType
	if kt == "" {
		kt = KeyRSA2048
	}
	cn := opts.CommonName
	if cn == "" {
		cn = DefaultCommonName
	}
	if err := checkCommonName(cn); err != nil {
		return nil, nil, err
	}
	validity := opts.Validity
	if validity == 0 {
		validity = DefaultValidity
	}
	if validity < 0 || validity > MaxValidity {
		return nil, nil, fmt.Errorf("idp keygen: validity %s out of range: must be positive and at most %s (14 years; federation configs refuse certificates valid longer)", validity, MaxValidity)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}

	var key crypto.Signer
	switch kt {
	case KeyRSA2048, KeyRSA3072, KeyRSA4096:
		bits := map[KeyType]int{KeyRSA2048: 2048, KeyRSA3072: 3072, KeyRSA4096: 4096}[kt]
		key, err = rsa.GenerateKey(rand.Reader, bits)
	case KeyECDSAP256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, nil, fmt.Errorf("idp keygen: unknown key type %q (want one of %s)", kt, joinKeyTypes())
	}
	if err != nil {
		return nil, nil, fmt.Errorf("idp keygen: generate %s key: %w", kt, err)
	}

	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("idp keygen: serial number: %w", err)
	}
	t := now().UTC()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             t.Add(-backdate),
		NotAfter:              t.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("idp keygen: self-sign certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("idp keygen: encode private key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	return certPEM, keyPEM, nil
}

func checkCommonName(cn string) error {
	if len(cn) > MaxCommonNameBytes {
		return fmt.Errorf("idp keygen: common name is %d bytes, at most %d allowed", len(cn), MaxCommonNameBytes)
	}
	if !utf8.ValidString(cn) {
		return errors.New("idp keygen: common name is not valid UTF-8")
	}
	for _, r := range cn {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("idp keygen: common name contains control character %U", r)
		}
	}
	return nil
}

func joinKeyTypes() string {
	s := make([]string, len(KeyTypes))
	for i, k := range KeyTypes {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// KeyPair is a parsed signing certificate and its private key, the input of
// Sign. Parse it once with ParseKeyPair and sign many Responses with it.
type KeyPair struct {
	// Cert is the certificate placed in each Signature's KeyInfo, as IdPs do
	// (the server never trusts it from there).
	Cert *x509.Certificate
	// Key signs; it is an *rsa.PrivateKey or an *ecdsa.PrivateKey.
	Key crypto.Signer
}

// ParseKeyPair reads a PEM certificate and a PEM private key (PKCS#8, PKCS#1
// "RSA PRIVATE KEY" or SEC 1 "EC PRIVATE KEY", as openssl and Keygen write
// them) and checks that they belong together, so a mismatched pair fails here
// with a clear message rather than as an opaque signature error at the server.
func ParseKeyPair(certPEM, keyPEM []byte) (*KeyPair, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("idp: certificate: no PEM CERTIFICATE block found")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("idp: parse certificate: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("idp: private key: no PEM block found")
	}
	var parsed any
	switch kb.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(kb.Bytes)
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(kb.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(kb.Bytes)
	default:
		return nil, fmt.Errorf("idp: private key: unsupported PEM block %q (want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)", kb.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("idp: parse private key: %w", err)
	}
	var key crypto.Signer
	switch k := parsed.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("idp: RSA key is %d bits, at least 2048 required", k.N.BitLen())
		}
		key = k
	case *ecdsa.PrivateKey:
		key = k
	default:
		return nil, fmt.Errorf("idp: private key type %T not supported (want RSA or ECDSA)", parsed)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := key.Public().(equaler)
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, errors.New("idp: private key does not match the certificate's public key")
	}
	return &KeyPair{Cert: cert, Key: key}, nil
}

// DefaultIssuer is the SAML Issuer (entity ID) the test IdP uses when none is
// given: the certificate's subject CN, or DefaultCommonName when the CN is
// empty. With Keygen's defaults that is "s3fed-test-idp", the idpEntityId to
// put in the federation config.
func DefaultIssuer(cert *x509.Certificate) string {
	if cert != nil && cert.Subject.CommonName != "" {
		return cert.Subject.CommonName
	}
	return DefaultCommonName
}
