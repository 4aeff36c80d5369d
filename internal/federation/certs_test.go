package federation_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/federation"
)

// now is the fixed "current time" of these tests, on a second boundary as
// certificate times are.
var now = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

var (
	caOnce sync.Once
	caKey  *ecdsa.PrivateKey
	caCert *x509.Certificate
	rsa2k  *rsa.PrivateKey
)

// issuer returns a P-256 CA that signs the test certificates, so the
// certificate's own key (which may be a bare public key) never has to sign.
func issuer(t testing.TB) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	caOnce.Do(func() {
		var err error
		caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, caKey.Public(), caKey)
		if err != nil {
			panic(err)
		}
		caCert, _ = x509.ParseCertificate(der)
		rsa2k, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
	})
	return caKey, caCert
}

var serial = big.NewInt(100)
var serialMu sync.Mutex

// certPEM makes a PEM certificate for pub valid from nb to na.
func certPEM(t testing.TB, pub crypto.PublicKey, nb, na time.Time) string {
	t.Helper()
	key, ca := issuer(t)
	serialMu.Lock()
	serial = new(big.Int).Add(serial, big.NewInt(1))
	sn := new(big.Int).Set(serial)
	serialMu.Unlock()
	tmpl := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: "idp " + sn.String()}, NotBefore: nb, NotAfter: na}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// fakeRSA is an RSA public key of exactly bits bits. Only its size matters
// to the upload rules, so no primes are generated (a real 8192- or
// 16384-bit key would take far too long).
func fakeRSA(t testing.TB, bits int) *rsa.PublicKey {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
	if err != nil {
		t.Fatal(err)
	}
	n.SetBit(n, bits-1, 1)
	n.SetBit(n, 0, 1)
	return &rsa.PublicKey{N: n, E: 65537}
}

func ecKey(t testing.TB, c elliptic.Curve) crypto.PublicKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k.Public()
}

// valid is a typical IdP certificate validity.
func valid(t testing.TB, pub crypto.PublicKey) string {
	return certPEM(t, pub, now.Add(-24*time.Hour), now.Add(365*24*time.Hour))
}

func TestParseCertificates(t *testing.T) {
	issuer(t)
	p256 := valid(t, ecKey(t, elliptic.P256()))
	expired := certPEM(t, ecKey(t, elliptic.P256()), now.Add(-48*time.Hour), now.Add(-time.Hour))
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(rsa2k)
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	rsaKeyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsa2k)}))

	tests := []struct {
		name    string
		field   string
		pems    []string
		n       int    // certificates returned on success
		errFld  string // CertError.Field on failure
		errHas  string // substring of the reason
		wantErr bool
	}{
		{name: "RSA 2048 real key", field: "x509Certificate", pems: []string{valid(t, rsa2k.Public())}, n: 1},
		{name: "RSA 2048", field: "x509Certificate", pems: []string{valid(t, fakeRSA(t, 2048))}, n: 1},
		{name: "RSA 3072", field: "x509Certificate", pems: []string{valid(t, fakeRSA(t, 3072))}, n: 1},
		{name: "RSA 8192", field: "x509Certificate", pems: []string{valid(t, fakeRSA(t, 8192))}, n: 1},
		{name: "RSA 1024", field: "x509Certificate", pems: []string{valid(t, fakeRSA(t, 1024))}, wantErr: true, errFld: "x509Certificate", errHas: "1024 bits"},
		{name: "RSA 2047", field: "x509Certificate", pems: []string{valid(t, fakeRSA(t, 2047))}, wantErr: true, errFld: "x509Certificate", errHas: "2047 bits"},
		{name: "RSA 8193", field: "x509Certificate", pems: []string{valid(t, fakeRSA(t, 8193))}, wantErr: true, errFld: "x509Certificate", errHas: "8193 bits"},
		{name: "RSA 16384", field: "x509Certificate", pems: []string{valid(t, fakeRSA(t, 16384))}, wantErr: true, errFld: "x509Certificate", errHas: "16384 bits"},
		{name: "P-256", field: "x509Certificate", pems: []string{p256}, n: 1},
		{name: "P-384", field: "x509Certificate", pems: []string{valid(t, ecKey(t, elliptic.P384()))}, n: 1},
		{name: "P-521", field: "x509Certificate", pems: []string{valid(t, ecKey(t, elliptic.P521()))}, wantErr: true, errFld: "x509Certificate", errHas: "P-256 or P-384"},
		{name: "P-224", field: "x509Certificate", pems: []string{valid(t, ecKey(t, elliptic.P224()))}, wantErr: true, errFld: "x509Certificate", errHas: "P-256 or P-384"},
		{name: "Ed25519", field: "x509Certificate", pems: []string{valid(t, edPub)}, wantErr: true, errFld: "x509Certificate", errHas: "ed25519"},
		{name: "expired only", field: "x509Certificate", pems: []string{expired}, wantErr: true, errFld: "x509Certificate", errHas: "expired"},
		{name: "expired only in list", field: "certificates", pems: []string{expired}, wantErr: true, errFld: "certificates", errHas: "expired"},
		{name: "expired at exactly now", field: "x509Certificate", pems: []string{certPEM(t, ecKey(t, elliptic.P256()), now.Add(-time.Hour), now)}, wantErr: true, errHas: "expired"},
		{name: "one expired one valid", field: "certificates", pems: []string{expired, p256}, n: 2},
		{name: "not yet valid within 7 days", field: "x509Certificate", pems: []string{certPEM(t, ecKey(t, elliptic.P256()), now.Add(6*24*time.Hour), now.Add(30*24*time.Hour))}, n: 1},
		{name: "notBefore exactly 7 days ahead", field: "x509Certificate", pems: []string{certPEM(t, ecKey(t, elliptic.P256()), now.Add(7*24*time.Hour), now.Add(30*24*time.Hour))}, n: 1},
		{name: "notBefore 8 days ahead", field: "x509Certificate", pems: []string{certPEM(t, ecKey(t, elliptic.P256()), now.Add(8*24*time.Hour), now.Add(30*24*time.Hour))}, wantErr: true, errFld: "x509Certificate", errHas: "notBefore"},
		{name: "notAfter 14 years ahead", field: "x509Certificate", pems: []string{certPEM(t, ecKey(t, elliptic.P256()), now.Add(-time.Hour), now.Add(federation.MaxNotAfterAhead))}, n: 1},
		{name: "notAfter 15 years ahead", field: "x509Certificate", pems: []string{certPEM(t, ecKey(t, elliptic.P256()), now.Add(-time.Hour), now.AddDate(15, 0, 0))}, wantErr: true, errFld: "x509Certificate", errHas: "notAfter"},
		{name: "three certificates", field: "certificates", pems: []string{p256, valid(t, ecKey(t, elliptic.P256())), valid(t, ecKey(t, elliptic.P384()))}, n: 3},
		{name: "four certificates", field: "certificates", pems: []string{p256, valid(t, ecKey(t, elliptic.P256())), valid(t, ecKey(t, elliptic.P256())), valid(t, ecKey(t, elliptic.P256()))}, wantErr: true, errFld: "certificates", errHas: "at most 3"},
		{name: "empty list", field: "certificates", pems: []string{}, wantErr: true, errFld: "certificates", errHas: "at least one"},
		{name: "empty string", field: "x509Certificate", pems: []string{""}, wantErr: true, errFld: "x509Certificate", errHas: "not a PEM"},
		{name: "garbage", field: "x509Certificate", pems: []string{"hello"}, wantErr: true, errFld: "x509Certificate", errHas: "not a PEM"},
		{name: "PKCS#8 private key", field: "x509Certificate", pems: []string{keyPEM}, wantErr: true, errFld: "x509Certificate", errHas: "private key"},
		{name: "PKCS#1 private key", field: "certificates", pems: []string{p256, rsaKeyPEM}, wantErr: true, errFld: "certificates[1]", errHas: "RSA PRIVATE KEY"},
		{name: "cert followed by key", field: "x509Certificate", pems: []string{p256 + keyPEM}, wantErr: true, errFld: "x509Certificate", errHas: "exactly one certificate"},
		{name: "two PEMs in one entry", field: "certificates", pems: []string{p256 + valid(t, ecKey(t, elliptic.P256()))}, wantErr: true, errFld: "certificates[0]", errHas: "exactly one certificate"},
		{name: "duplicate", field: "certificates", pems: []string{p256, p256}, wantErr: true, errFld: "certificates[1]", errHas: "duplicate"},
		{name: "duplicate modulo whitespace", field: "certificates", pems: []string{p256, "\n  " + p256 + "\n\n"}, wantErr: true, errFld: "certificates[1]", errHas: "duplicate"},
		{name: "second entry bad names its index", field: "certificates", pems: []string{p256, valid(t, fakeRSA(t, 1024))}, wantErr: true, errFld: "certificates[1]", errHas: "1024"},
		{name: "corrupt DER", field: "x509Certificate", pems: []string{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("nope")}))}, wantErr: true, errFld: "x509Certificate", errHas: "does not parse"},
		{name: "oversized PEM", field: "x509Certificate", pems: []string{p256 + strings.Repeat(" ", 17<<10)}, wantErr: true, errFld: "x509Certificate", errHas: "longer than"},
		{name: "surrounding whitespace ok", field: "x509Certificate", pems: []string{"\n\n " + p256 + "\n \n"}, n: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := federation.ParseCertificates(tt.field, tt.pems, now)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("ParseCertificates: %v", err)
				}
				if len(certs) != tt.n {
					t.Errorf("got %d certificates, want %d", len(certs), tt.n)
				}
				return
			}
			var ce *federation.CertError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want *CertError", err, err)
			}
			want := tt.errFld
			if want == "" {
				want = tt.field
			}
			if ce.Field != want {
				t.Errorf("field %q, want %q (%v)", ce.Field, want, err)
			}
			if !strings.Contains(strings.ToLower(ce.Reason), strings.ToLower(tt.errHas)) {
				t.Errorf("reason %q does not contain %q", ce.Reason, tt.errHas)
			}
			if !strings.HasPrefix(err.Error(), ce.Field+": ") {
				t.Errorf("Error() %q does not start with the field", err.Error())
			}
			if certs != nil {
				t.Errorf("returned certificates with an error")
			}
		})
	}
}

func TestDescribeUsableStored(t *testing.T) {
	issuer(t)
	rsaPEM := valid(t, rsa2k.Public())
	ecPEM := certPEM(t, ecKey(t, elliptic.P384()), now.Add(-48*time.Hour), now.Add(-time.Hour))
	futurePEM := certPEM(t, ecKey(t, elliptic.P256()), now.Add(24*time.Hour), now.Add(48*time.Hour))
	certs, err := federation.ParseStored([]string{rsaPEM, ecPEM, futurePEM})
	if err != nil {
		t.Fatal(err)
	}
	info := federation.Describe(certs, now)
	if len(info) != 3 {
		t.Fatalf("Describe: %d entries", len(info))
	}
	if info[0].KeyType != "RSA-2048" || info[0].Expired || len(info[0].SHA256) != 64 || info[0].SHA256 != federation.Fingerprint(certs[0]) {
		t.Errorf("RSA info %+v", info[0])
	}
	if info[1].KeyType != "ECDSA-P-384" || !info[1].Expired {
		t.Errorf("expired EC info %+v", info[1])
	}
	if !strings.Contains(info[0].Subject, "CN=idp") || !info[0].NotAfter.Equal(now.Add(365*24*time.Hour)) {
		t.Errorf("subject/notAfter %+v", info[0])
	}

	// Expired and not-yet-valid certificates are skipped when verifying.
	u := federation.Usable(certs, now)
	if len(u) != 1 || u[0] != certs[0] {
		t.Errorf("Usable at now: %d certificates", len(u))
	}
	if u := federation.Usable(certs, now.Add(25*time.Hour)); len(u) != 2 {
		t.Errorf("Usable a day later: %d certificates, want 2", len(u))
	}

	// A stored config keeps working after the upload rules would refuse it.
	later := now.AddDate(2, 0, 0)
	if _, err := federation.ParseCertificates("x509Certificate", []string{ecPEM}, later); err == nil {
		t.Fatal("expired certificate accepted on upload")
	}
	if got, err := federation.ParseStored([]string{ecPEM}); err != nil || len(got) != 1 {
		t.Errorf("ParseStored of an expired certificate: %v", err)
	}
	for _, bad := range []string{"garbage", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2}}))} {
		if _, err := federation.ParseStored([]string{rsaPEM, bad}); err == nil || !strings.Contains(err.Error(), "stored certificate 1") {
			t.Errorf("ParseStored(%.20q) = %v, want an error naming certificate 1", bad, err)
		}
	}
}
