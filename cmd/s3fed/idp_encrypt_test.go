package main

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/federation"
	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/saml"
)

type acceptAll struct{}

func (acceptAll) Claim(context.Context, string, string, time.Time) error { return nil }

// `s3fed idp sign --encrypt-to` produces what a config holding that encryption key accepts.
func TestIdpSignEncryptCmd(t *testing.T) {
	dir := t.TempDir()
	if _, err := runIdp(t, dir, "keygen"); err != nil {
		t.Fatal(err)
	}
	ek, err := federation.GenerateEncryptionKey(federation.KeySpecRSA2048, "s3fed abc123/cfg/key-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "enc-cert.pem"), []byte(ek.CertificatePEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	certPEM, _ := os.ReadFile(filepath.Join(dir, "idp-cert.pem"))
	keyPEM, _ := os.ReadFile(filepath.Join(dir, "idp-key.pem"))
	kp, err := idp.ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(legacy bool) *saml.Config {
		return &saml.Config{IdPEntityID: idp.DefaultIssuer(kp.Cert), Certificates: []*x509.Certificate{kp.Cert}, ACSURL: saml.ACSURL(idpDefaultPublicURL),
			Audience: saml.AudienceURL(idpDefaultPublicURL, "abc123"), Skew: time.Minute, Replay: acceptAll{},
			DecryptionKeys: []saml.DecryptionKey{ek.DecryptionKey("key-1")}, RequireEncryptedAssertions: true, AllowLegacyEncryption: legacy}
	}
	base := []string{"sign", "--org", "abc123", "--principal", "alice@example.com", "--role", "reader"}
	t.Setenv("S3FED_PUBLIC_URL", "")
	t.Setenv("S3FED_API", "")
	for _, tc := range []struct {
		name   string
		args   []string
		legacy bool
		has    string
	}{
		{name: "defaults", args: []string{"--encrypt-to", "enc-cert.pem"}, has: "xmlenc11#aes256-gcm"},
		{name: "rsa-oaep-mgf1p aes128-gcm", args: []string{"--encrypt-to", "enc-cert.pem", "--key-transport", "rsa-oaep-mgf1p", "--data-encryption", "aes128-gcm"}, has: "rsa-oaep-mgf1p"},
		{name: "legacy", args: []string{"--encrypt-to", "enc-cert.pem", "--key-transport", "rsa-1_5", "--data-encryption", "aes128-cbc"}, legacy: true, has: "rsa-1_5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runIdp(t, dir, append(append([]string{}, base...), tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			x, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(x), tc.has) || strings.Contains(string(x), "alice@example.com") {
				t.Fatalf("output %.200s", x)
			}
			if tc.legacy {
				if _, err := saml.ValidateXML(context.Background(), x, cfg(false)); err == nil {
					t.Fatal("legacy algorithms accepted without the opt-in")
				}
			}
			a, err := saml.ValidateXML(context.Background(), x, cfg(tc.legacy))
			if err != nil || !a.Encrypted || a.NameID != "alice@example.com" {
				t.Fatalf("got %+v, %v", a, err)
			}
		})
	}
	for name, tc := range map[string]struct {
		args []string
		has  string
	}{
		"key transport without --encrypt-to":   {[]string{"--key-transport", "rsa-oaep"}, "need --encrypt-to"},
		"data encryption without --encrypt-to": {[]string{"--data-encryption", "aes128-gcm"}, "need --encrypt-to"},
		"missing certificate file":             {[]string{"--encrypt-to", "nope.pem"}, "read --encrypt-to"},
		"private key instead of certificate":   {[]string{"--encrypt-to", "idp-key.pem"}, "want exactly one PEM CERTIFICATE"},
		"ECDSA certificate":                    {[]string{"--encrypt-to", "ec-cert.pem"}, "needs RSA"},
		"unknown key transport":                {[]string{"--encrypt-to", "enc-cert.pem", "--key-transport", "rsa-oaep-256"}, "unknown key transport"},
		"unknown data encryption":              {[]string{"--encrypt-to", "enc-cert.pem", "--data-encryption", "chacha20"}, "unknown data encryption"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := runIdp(t, dir, "keygen", "--key-type", "ecdsa-p256", "--out-cert", "ec-cert.pem", "--out-key", "ec-key.pem", "--force"); err != nil {
				t.Fatal(err)
			}
			if _, err := runIdp(t, dir, append(append([]string{}, base...), tc.args...)...); err == nil || !strings.Contains(err.Error(), tc.has) {
				t.Fatalf("err %v, want %q", err, tc.has)
			}
		})
	}
}
