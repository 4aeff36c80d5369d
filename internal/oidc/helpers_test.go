package oidc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/oidc"
)

const (
	issuer   = "https://idp.example.com"
	audience = "s3fed-test"
)

// now is the fixed clock of the tests; whole seconds so NumericDates
// round-trip exactly.
var now = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) {
	code := m.Run()
	if n := oidc.RecoveredPanics(); n != 0 {
		println("oidc: recovered", n, "panics: a refusal hid a bug")
		code = 1
	}
	os.Exit(code)
}

type testKeys struct {
	rsa, rsa2, ec256, ec384, other *idp.JWTKey
	rsaPriv                        *rsa.PrivateKey
}

var (
	keysOnce sync.Once
	keysVal  testKeys
)

// keys are generated once per test binary (RSA generation is the slow part).
func keys(t testing.TB) testKeys {
	t.Helper()
	keysOnce.Do(func() {
		mk := func(k any) *idp.JWTKey {
			j, err := idp.NewJWTKey(k)
			if err != nil {
				panic(err)
			}
			return j
		}
		r1, _ := rsa.GenerateKey(rand.Reader, 2048)
		r2, _ := rsa.GenerateKey(rand.Reader, 2048)
		r3, _ := rsa.GenerateKey(rand.Reader, 2048)
		e1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		e2, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		keysVal = testKeys{rsa: mk(r1), rsa2: mk(r2), ec256: mk(e1), ec384: mk(e2), other: mk(r3), rsaPriv: r1}
	})
	return keysVal
}

// jwksOf parses the public JWK Set of ks.
func jwksOf(t testing.TB, ks ...*idp.JWTKey) *oidc.KeySet {
	t.Helper()
	set, err := oidc.ParseJWKS(idp.JWKS(ks...))
	if err != nil {
		t.Fatalf("ParseJWKS: %v", err)
	}
	return set
}

// config trusts the config keys (rsa, ec256, ec384 by default) with skew 60s
// at the fixed clock.
func config(t testing.TB, ks ...*idp.JWTKey) *oidc.Config {
	t.Helper()
	if len(ks) == 0 {
		k := keys(t)
		ks = []*idp.JWTKey{k.rsa, k.ec256, k.ec384}
	}
	return &oidc.Config{
		Issuer:   issuer,
		Audience: audience,
		Keys:     oidc.StaticKeys{Set: jwksOf(t, ks...)},
		Skew:     time.Minute,
		Now:      func() time.Time { return now },
	}
}

// opts are the options of a token the default config accepts.
func opts(k *idp.JWTKey) idp.JWTOptions {
	return idp.JWTOptions{
		Key:      k,
		Issuer:   issuer,
		Subject:  "system:serviceaccount:data:ingest",
		Audience: []string{audience},
		IssuedAt: now.Add(-5 * time.Minute),
		Lifetime: time.Hour,
		Now:      func() time.Time { return now },
	}
}

func sign(t testing.TB, o idp.JWTOptions) string {
	t.Helper()
	tok, err := idp.SignJWT(o)
	if err != nil {
		t.Fatalf("SignJWT: %v", err)
	}
	return tok
}

// wantCode asserts err is an *oidc.Error with code, and that no token came
// back with it.
func wantCode(t *testing.T, tok *oidc.Token, err error, code oidc.Code) {
	t.Helper()
	if tok != nil {
		t.Errorf("a token was returned together with error %v", err)
	}
	var oe *oidc.Error
	if !errors.As(err, &oe) {
		t.Fatalf("err = %v (%T), want *oidc.Error %s", err, err, code)
	}
	if oe.Code != code {
		t.Fatalf("code %s (%s), want %s", oe.Code, oe.Reason, code)
	}
	if !strings.HasPrefix(err.Error(), string(code)+": ") {
		t.Errorf("Error() = %q, want the code as prefix", err.Error())
	}
}

func verify(t *testing.T, token string, cfg *oidc.Config) (*oidc.Token, error) {
	t.Helper()
	return oidc.Verify(context.Background(), token, cfg)
}

// selfSigned returns a base64 DER certificate for k (for an x5c header).
func selfSigned(t testing.TB, k *idp.JWTKey) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attacker"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Signer.Public(), k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}
