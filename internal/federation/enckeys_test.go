package federation_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/s3fed/s3fed/internal/creds"
	"github.com/s3fed/s3fed/internal/federation"
)

func testKeyring() *creds.Keyring {
	return &creds.Keyring{Current: 1, Keys: map[uint16][]byte{1: bytes.Repeat([]byte{7}, 32)}}
}

func TestGenerateEncryptionKey(t *testing.T) {
	for _, tc := range []struct {
		spec federation.KeySpec
		bits int
	}{{federation.KeySpecRSA2048, 2048}, {federation.KeySpecRSA3072, 3072}, {federation.KeySpecRSA4096, 4096}} {
		t.Run(string(tc.spec), func(t *testing.T) {
			k, err := federation.GenerateEncryptionKey(tc.spec, "s3fed org1/cfg1/key1", now)
			if err != nil {
				t.Fatal(err)
			}
			c := k.Certificate
			pub, ok := c.PublicKey.(*rsa.PublicKey)
			if !ok || pub.N.BitLen() != tc.bits {
				t.Fatalf("certificate key %T", c.PublicKey)
			}
			if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
				t.Fatalf("not self-signed: %v", err)
			}
			if c.SignatureAlgorithm != x509.SHA256WithRSA || c.Subject.CommonName != "s3fed org1/cfg1/key1" {
				t.Fatalf("algorithm %v subject %v", c.SignatureAlgorithm, c.Subject)
			}
			if c.KeyUsage != x509.KeyUsageKeyEncipherment|x509.KeyUsageDataEncipherment {
				t.Fatalf("key usage %v", c.KeyUsage)
			}
			if !c.NotBefore.Before(now) || !c.NotAfter.Equal(now.Add(federation.EncryptionCertValidity)) {
				t.Fatalf("validity %s .. %s", c.NotBefore, c.NotAfter)
			}
			dk := k.DecryptionKey("key1")
			if dk.ID != "key1" || dk.Key == nil || !dk.Key.PublicKey.Equal(pub) || dk.Certificate != c {
				t.Fatalf("DecryptionKey does not match the certificate")
			}
			if !strings.HasPrefix(k.CertificatePEM(), "-----BEGIN CERTIFICATE-----\n") {
				t.Fatalf("CertificatePEM: %.40q", k.CertificatePEM())
			}
		})
	}
	t.Run("two keys differ", func(t *testing.T) {
		a, _ := federation.GenerateEncryptionKey(federation.KeySpecRSA2048, "a", now)
		b, _ := federation.GenerateEncryptionKey(federation.KeySpecRSA2048, "a", now)
		if a.DecryptionKey("").Key.Equal(b.DecryptionKey("").Key) || a.Certificate.SerialNumber.Cmp(b.Certificate.SerialNumber) == 0 {
			t.Fatal("two generated keys share a key or a serial")
		}
	})
	for name, tc := range map[string]struct {
		spec federation.KeySpec
		cn   string
	}{
		"unknown spec":  {"RSA_1024", "x"},
		"EC spec":       {"EC_P256", "x"},
		"lower case":    {"rsa_2048", "x"},
		"empty CN":      {federation.KeySpecRSA2048, ""},
		"long CN":       {federation.KeySpecRSA2048, strings.Repeat("x", 65)},
		"control in CN": {federation.KeySpecRSA2048, "a\nb"},
	} {
		t.Run(name, func(t *testing.T) {
			if k, err := federation.GenerateEncryptionKey(tc.spec, tc.cn, now); err == nil || k != nil {
				t.Fatalf("generated %v", k)
			}
		})
	}
}

func TestEncryptionKeySealing(t *testing.T) {
	kr := testKeyring()
	k, err := federation.GenerateEncryptionKey(federation.KeySpecRSA2048, "s3fed test", now)
	if err != nil {
		t.Fatal(err)
	}
	ctx := federation.EncryptionKeyContext("org1", "cfg1", "key1")
	sealed, err := k.Seal(kr, ctx)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k.DecryptionKey("").Key)
	if bytes.Contains(sealed, der[len(der)-64:]) {
		t.Fatal("sealed value contains the private key")
	}
	got, err := federation.OpenEncryptionKey(kr, federation.KeySpecRSA2048, k.CertificatePEM(), sealed, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !got.DecryptionKey("").Key.Equal(k.DecryptionKey("").Key) || !got.Certificate.Equal(k.Certificate) {
		t.Fatal("opened key differs")
	}
	t.Run("after a master key rotation", func(t *testing.T) {
		rotated := &creds.Keyring{Current: 2, Keys: map[uint16][]byte{1: kr.Keys[1], 2: bytes.Repeat([]byte{8}, 32)}}
		if _, err := federation.OpenEncryptionKey(rotated, federation.KeySpecRSA2048, k.CertificatePEM(), sealed, ctx); err != nil {
			t.Fatal(err)
		}
	})
	other, _ := federation.GenerateEncryptionKey(federation.KeySpecRSA2048, "other", now)
	for name, open := range map[string]func() (*federation.EncryptionKey, error){
		"other config": func() (*federation.EncryptionKey, error) {
			return federation.OpenEncryptionKey(kr, federation.KeySpecRSA2048, k.CertificatePEM(), sealed, federation.EncryptionKeyContext("org1", "cfg2", "key1"))
		},
		"ambiguous context split": func() (*federation.EncryptionKey, error) {
			return federation.OpenEncryptionKey(kr, federation.KeySpecRSA2048, k.CertificatePEM(), sealed, federation.EncryptionKeyContext("org1c", "fg1", "key1"))
		},
		"other master key": func() (*federation.EncryptionKey, error) {
			return federation.OpenEncryptionKey(&creds.Keyring{Current: 1, Keys: map[uint16][]byte{1: bytes.Repeat([]byte{9}, 32)}}, federation.KeySpecRSA2048, k.CertificatePEM(), sealed, ctx)
		},
		"certificate of another key": func() (*federation.EncryptionKey, error) {
			return federation.OpenEncryptionKey(kr, federation.KeySpecRSA2048, other.CertificatePEM(), sealed, ctx)
		},
		"wrong spec": func() (*federation.EncryptionKey, error) {
			return federation.OpenEncryptionKey(kr, federation.KeySpecRSA4096, k.CertificatePEM(), sealed, ctx)
		},
		"certificate not PEM": func() (*federation.EncryptionKey, error) {
			return federation.OpenEncryptionKey(kr, federation.KeySpecRSA2048, "nope", sealed, ctx)
		},
		"damaged": func() (*federation.EncryptionKey, error) {
			s := append([]byte{}, sealed...)
			s[len(s)/2] ^= 1
			return federation.OpenEncryptionKey(kr, federation.KeySpecRSA2048, k.CertificatePEM(), s, ctx)
		},
		"sealed for another purpose": func() (*federation.EncryptionKey, error) {
			s, _ := kr.Seal("oidc-client-secret", der, ctx)
			return federation.OpenEncryptionKey(kr, federation.KeySpecRSA2048, k.CertificatePEM(), s, ctx)
		},
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := open(); err == nil || got != nil {
				t.Fatalf("opened: %v", got)
			}
		})
	}
}

// No formatted, logged or JSON form of an EncryptionKey shows the private key.
func TestEncryptionKeyNeverShown(t *testing.T) {
	k, err := federation.GenerateEncryptionKey(federation.KeySpecRSA2048, "s3fed test", now)
	if err != nil {
		t.Fatal(err)
	}
	priv := k.DecryptionKey("k").Key
	secrets := []string{priv.D.String(), priv.Primes[0].String(), fmt.Sprintf("%x", priv.D.Bytes()[:16]), "PRIVATE KEY"}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("created", "key", k)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("created", "key", k)
	js, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	type holder struct{ K *federation.EncryptionKey }
	for _, s := range []string{
		fmt.Sprint(k), fmt.Sprintf("%v|%+v|%#v|%s|%q|%x", k, k, k, k, k, k), fmt.Sprintf("%+v %#v", holder{k}, holder{k}),
		fmt.Sprintf("%v", *k), fmt.Sprintf("%+v", []*federation.EncryptionKey{k}), logged.String(), string(js),
	} {
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Fatalf("private key material in %.300q", s)
			}
		}
	}
	if !strings.Contains(string(js), `"keySpec":"RSA_2048"`) || !strings.Contains(string(js), "BEGIN CERTIFICATE") {
		t.Fatalf("JSON %s", js)
	}
	if !strings.Contains(logged.String(), federation.Fingerprint(k.Certificate)) {
		t.Fatalf("log does not identify the key: %s", logged.String())
	}
}
