package idp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return fixedNow }

func TestKeygen(t *testing.T) {
	tests := []struct {
		name      string
		opts      KeygenOptions
		wantAlg   x509.PublicKeyAlgorithm
		wantBits  int
		wantCN    string
		wantAfter time.Time
	}{
		{"defaults", KeygenOptions{Now: clock}, x509.RSA, 2048, DefaultCommonName, fixedNow.Add(DefaultValidity)},
		{"rsa3072", KeygenOptions{KeyType: KeyRSA3072, Now: clock}, x509.RSA, 3072, DefaultCommonName, fixedNow.Add(DefaultValidity)},
		{"rsa4096 with cn", KeygenOptions{KeyType: KeyRSA4096, CommonName: "idp.example.com", Now: clock}, x509.RSA, 4096, "idp.example.com", fixedNow.Add(DefaultValidity)},
		{"ecdsa", KeygenOptions{KeyType: KeyECDSAP256, Validity: 48 * time.Hour, Now: clock}, x509.ECDSA, 256, DefaultCommonName, fixedNow.Add(48 * time.Hour)},
		{"max validity", KeygenOptions{KeyType: KeyECDSAP256, Validity: MaxValidity, Now: clock}, x509.ECDSA, 256, DefaultCommonName, fixedNow.Add(MaxValidity)},
		{"cn at limit", KeygenOptions{KeyType: KeyECDSAP256, CommonName: strings.Repeat("é", MaxCommonNameBytes/2), Now: clock}, x509.ECDSA, 256, strings.Repeat("é", MaxCommonNameBytes/2), fixedNow.Add(DefaultValidity)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, keyPEM, err := Keygen(tt.opts)
			if err != nil {
				t.Fatalf("Keygen: %v", err)
			}
			kp, err := ParseKeyPair(certPEM, keyPEM)
			if err != nil {
				t.Fatalf("ParseKeyPair of generated pair: %v", err)
			}
			c := kp.Cert
			if c.PublicKeyAlgorithm != tt.wantAlg {
				t.Errorf("algorithm %v, want %v", c.PublicKeyAlgorithm, tt.wantAlg)
			}
			switch k := c.PublicKey.(type) {
			case *rsa.PublicKey:
				if k.N.BitLen() != tt.wantBits {
					t.Errorf("RSA bits %d, want %d", k.N.BitLen(), tt.wantBits)
				}
			case *ecdsa.PublicKey:
				if k.Curve != elliptic.P256() {
					t.Errorf("curve %v, want P-256", k.Curve.Params().Name)
				}
			}
			if c.Subject.CommonName != tt.wantCN || c.Issuer.CommonName != tt.wantCN {
				t.Errorf("subject/issuer CN %q/%q, want %q", c.Subject.CommonName, c.Issuer.CommonName, tt.wantCN)
			}
			if !c.NotAfter.Equal(tt.wantAfter) {
				t.Errorf("notAfter %v, want %v", c.NotAfter, tt.wantAfter)
			}
			// API.md: notAfter at most 14 years ahead, notBefore at most 7 days ahead.
			if c.NotAfter.After(fixedNow.AddDate(14, 0, 0)) {
				t.Errorf("notAfter %v beyond the 14-year limit", c.NotAfter)
			}
			if !c.NotBefore.Before(fixedNow) {
				t.Errorf("notBefore %v not before now", c.NotBefore)
			}
			if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
				t.Errorf("not self-signed: %v", err)
			}
			if c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
				t.Error("digitalSignature key usage missing")
			}
			if b, _ := pem.Decode(keyPEM); b == nil || b.Type != "PRIVATE KEY" {
				t.Errorf("key PEM is not PKCS#8 PRIVATE KEY")
			}
		})
	}
}

func TestKeygenErrors(t *testing.T) {
	tests := []struct {
		name string
		opts KeygenOptions
		want string
	}{
		{"unknown key type", KeygenOptions{KeyType: "rsa1024"}, "unknown key type"},
		{"negative validity", KeygenOptions{KeyType: KeyECDSAP256, Validity: -time.Hour}, "validity"},
		{"validity over 14 years", KeygenOptions{KeyType: KeyECDSAP256, Validity: MaxValidity + time.Second}, "at most"},
		{"cn too long", KeygenOptions{KeyType: KeyECDSAP256, CommonName: strings.Repeat("a", MaxCommonNameBytes+1)}, "at most 64"},
		{"cn control char", KeygenOptions{KeyType: KeyECDSAP256, CommonName: "idp\nx"}, "control character"},
		{"cn bad utf8", KeygenOptions{KeyType: KeyECDSAP256, CommonName: "idp\xff"}, "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, k, err := Keygen(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one containing %q", err, tt.want)
			}
			if c != nil || k != nil {
				t.Error("output returned with an error")
			}
		})
	}
}

func TestParseKeyPair(t *testing.T) {
	ecCert, ecKey := mustKeygen(t, KeyECDSAP256)
	otherCert, _ := mustKeygen(t, KeyECDSAP256)
	rsaCert, rsaKey := mustKeygen(t, KeyRSA2048)

	ecPriv := parsePKCS8(t, ecKey).(*ecdsa.PrivateKey)
	sec1, err := x509.MarshalECPrivateKey(ecPriv)
	if err != nil {
		t.Fatal(err)
	}
	rsaPriv := parsePKCS8(t, rsaKey).(*rsa.PrivateKey)
	pkcs1 := x509.MarshalPKCS1PrivateKey(rsaPriv)

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)})

	tests := []struct {
		name      string
		cert, key []byte
		want      string // "" means success
	}{
		{"pkcs8 ec", ecCert, ecKey, ""},
		{"pkcs8 rsa", rsaCert, rsaKey, ""},
		{"sec1 ec", ecCert, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), ""},
		{"pkcs1 rsa", rsaCert, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: pkcs1}), ""},
		{"mismatched pair", otherCert, ecKey, "does not match"},
		{"rsa cert with ec key", rsaCert, ecKey, "does not match"},
		{"no cert pem", []byte("junk"), ecKey, "no PEM CERTIFICATE"},
		{"key given as cert", ecKey, ecKey, "no PEM CERTIFICATE"},
		{"bad cert der", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}), ecKey, "parse certificate"},
		{"no key pem", ecCert, []byte("junk"), "no PEM block"},
		{"wrong key block", ecCert, ecCert, "unsupported PEM block"},
		{"bad key der", ecCert, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}), "parse private key"},
		{"rsa 1024", rsaCert, smallPEM, "at least 2048"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kp, err := ParseKeyPair(tt.cert, tt.key)
			if tt.want == "" {
				if err != nil || kp == nil || kp.Cert == nil || kp.Key == nil {
					t.Fatalf("ParseKeyPair: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestDefaultIssuer(t *testing.T) {
	cert, _ := mustKeygenCN(t, "corp-idp")
	tests := []struct {
		name string
		cert *x509.Certificate
		want string
	}{
		{"nil", nil, DefaultCommonName},
		{"empty cn", &x509.Certificate{}, DefaultCommonName},
		{"cn", cert, "corp-idp"},
	}
	for _, tt := range tests {
		if got := DefaultIssuer(tt.cert); got != tt.want {
			t.Errorf("%s: DefaultIssuer = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func mustKeygen(t *testing.T, kt KeyType) (certPEM, keyPEM []byte) {
	t.Helper()
	c, k, err := Keygen(KeygenOptions{KeyType: kt})
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

func mustKeygenCN(t *testing.T, cn string) (*x509.Certificate, *KeyPair) {
	t.Helper()
	c, k, err := Keygen(KeygenOptions{KeyType: KeyECDSAP256, CommonName: cn})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ParseKeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return kp.Cert, kp
}

func parsePKCS8(t *testing.T, keyPEM []byte) any {
	t.Helper()
	b, _ := pem.Decode(keyPEM)
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
