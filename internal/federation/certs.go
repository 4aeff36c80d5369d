// Package federation holds the rules for federation configs that do not
// depend on HTTP or storage: which IdP signing certificates may be trusted,
// what an IdP's metadata document contributes (metadata.go), the SAML
// encryption keys a config owns and how they are sealed (enckeys.go), and how
// a stored config becomes a validator configuration.
package federation

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"time"
)

// Limits on trusted IdP certificates (API.md).
const (
	MaxCertificates    = 3
	MinRSABits         = 2048
	MaxRSABits         = 8192
	MaxNotBeforeAhead  = 7 * 24 * time.Hour
	MaxNotAfterAhead   = 14 * 365 * 24 * time.Hour
	maxCertificatePEMs = 16 << 10
)

// CertError says which certificate is unacceptable and why; the API answers
// it as invalid_argument naming the field.
type CertError struct {
	Field  string
	Reason string
}

func (e *CertError) Error() string { return e.Field + ": " + e.Reason }

// CertInfo summarises a trusted certificate for API answers, so admins can
// tell certificates apart during a rotation without decoding PEM.
type CertInfo struct {
	SHA256    string    `json:"sha256"`
	Subject   string    `json:"subject"`
	KeyType   string    `json:"keyType"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	Expired   bool      `json:"expired"`
}

// ParseCertificates checks a config's certificates against API.md's rules:
// 1–3 PEM certificates, RSA 2048–8192 bits or ECDSA P-256/P-384, notBefore at
// most 7 days ahead, notAfter at most 14 years ahead, at least one unexpired.
// field names the request field for error messages.
func ParseCertificates(field string, pems []string, now time.Time) ([]*x509.Certificate, error) {
	if len(pems) == 0 {
		return nil, &CertError{field, "at least one certificate is required"}
	}
	if len(pems) > MaxCertificates {
		return nil, &CertError{field, fmt.Sprintf("at most %d certificates are allowed (got %d)", MaxCertificates, len(pems))}
	}
	var certs []*x509.Certificate
	seen := map[string]bool{}
	unexpired := 0
	for i, p := range pems {
		f := field
		if len(pems) > 1 || field == "certificates" {
			f = fmt.Sprintf("%s[%d]", field, i)
		}
		c, err := parseOne(f, p, now)
		if err != nil {
			return nil, err
		}
		fp := Fingerprint(c)
		if seen[fp] {
			return nil, &CertError{f, "duplicate certificate"}
		}
		seen[fp] = true
		if now.Before(c.NotAfter) {
			unexpired++
		}
		certs = append(certs, c)
	}
	if unexpired == 0 {
		return nil, &CertError{field, "every certificate has expired; upload at least one that is still valid"}
	}
	return certs, nil
}

func parseOne(field, p string, now time.Time) (*x509.Certificate, error) {
	if len(p) > maxCertificatePEMs {
		return nil, &CertError{field, fmt.Sprintf("certificate PEM is longer than %d bytes", maxCertificatePEMs)}
	}
	block, rest := pem.Decode([]byte(strings.TrimSpace(p)))
	if block == nil {
		return nil, &CertError{field, "not a PEM certificate (expected -----BEGIN CERTIFICATE-----)"}
	}
	if block.Type != "CERTIFICATE" {
		return nil, &CertError{field, fmt.Sprintf("PEM block is %q, expected CERTIFICATE (never upload a private key)", block.Type)}
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, &CertError{field, "exactly one certificate per entry; use the certificates list for several"}
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, &CertError{field, "certificate does not parse: " + err.Error()}
	}
	if err := checkCertificate(field, c, now); err != nil {
		return nil, err
	}
	return c, nil
}

// checkCertificate applies the key and validity rules to one parsed certificate (uploaded as PEM
// or found in IdP metadata).
func checkCertificate(field string, c *x509.Certificate, now time.Time) error {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if b := k.N.BitLen(); b < MinRSABits || b > MaxRSABits {
			return &CertError{field, fmt.Sprintf("RSA key is %d bits; allowed are %d to %d", b, MinRSABits, MaxRSABits)}
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return &CertError{field, "ECDSA key must be on P-256 or P-384"}
		}
	default:
		return &CertError{field, fmt.Sprintf("key type %T is not allowed; use RSA or ECDSA", c.PublicKey)}
	}
	if c.NotBefore.After(now.Add(MaxNotBeforeAhead)) {
		return &CertError{field, fmt.Sprintf("notBefore %s is more than 7 days ahead", c.NotBefore.UTC().Format(time.RFC3339))}
	}
	if c.NotAfter.After(now.Add(MaxNotAfterAhead)) {
		return &CertError{field, fmt.Sprintf("notAfter %s is more than 14 years ahead", c.NotAfter.UTC().Format(time.RFC3339))}
	}
	return nil
}

// Fingerprint is the hex SHA-256 of the certificate's DER.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// Describe summarises certificates for API answers.
func Describe(certs []*x509.Certificate, now time.Time) []CertInfo {
	out := make([]CertInfo, 0, len(certs))
	for _, c := range certs {
		kt := "unknown"
		switch k := c.PublicKey.(type) {
		case *rsa.PublicKey:
			kt = fmt.Sprintf("RSA-%d", k.N.BitLen())
		case *ecdsa.PublicKey:
			kt = "ECDSA-" + k.Curve.Params().Name
		}
		out = append(out, CertInfo{SHA256: Fingerprint(c), Subject: c.Subject.String(), KeyType: kt,
			NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), Expired: !now.Before(c.NotAfter)})
	}
	return out
}

// Usable returns the certificates that are valid at now: expired (or not yet
// valid) certificates are skipped when verifying, as API.md says.
func Usable(certs []*x509.Certificate, now time.Time) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range certs {
		if !now.Before(c.NotBefore) && now.Before(c.NotAfter) {
			out = append(out, c)
		}
	}
	return out
}

// ParseStored parses certificates already accepted on input; it does not
// re-apply the upload-time rules, so a config keeps working as time passes.
func ParseStored(pems []string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for i, p := range pems {
		block, _ := pem.Decode([]byte(p))
		if block == nil {
			return nil, fmt.Errorf("stored certificate %d: not PEM", i)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("stored certificate %d: %w", i, err)
		}
		out = append(out, c)
	}
	return out, nil
}
