package oidc_test

// Interop: tokens from independent JOSE implementations — python3-jwt
// (Debian's PyJWT) and go-jose's signer — are accepted by oidc.Verify and
// refused after a one-byte change; tokens the test IdP signs verify with
// python3-jwt, so the IdP is checked against code s3fed did not write.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/oidc"
)

const pythonPath = "/usr/bin/python3"

// needPyJWT skips outside CI and fails with CI=true when python3-jwt is
// missing (scripts/install-test-deps.sh installs it).
func needPyJWT(t *testing.T) {
	t.Helper()
	if err := exec.Command(pythonPath, "-c", "import jwt, cryptography").Run(); err != nil {
		msg := "python3-jwt unavailable (" + err.Error() + "); run scripts/install-test-deps.sh"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

func pyScript(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "scripts", "interop", "python3-jwt.py"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func runPy(t *testing.T, stdin []byte, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(pythonPath, append([]string{pyScript(t)}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, stderr.String())
	}
	return out, nil
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pkcs8PEM(t *testing.T, k *idp.JWTKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestInteropPyJWTSignedAccepted(t *testing.T) {
	needPyJWT(t)
	k := keys(t)
	claims, _ := json.Marshal(map[string]any{
		"iss": issuer, "sub": "repo:org/app:ref:refs/heads/main", "aud": []string{"x", audience},
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(), "nbf": now.Add(-time.Minute).Unix(),
		"repository_owner": "org", "groups": []string{"ml", "infra"},
	})
	for _, tc := range []struct {
		key *idp.JWTKey
		alg string
	}{{k.rsa, "RS256"}, {k.rsa, "RS384"}, {k.rsa, "RS512"}, {k.rsa, "PS256"}, {k.rsa, "PS384"}, {k.rsa, "PS512"}, {k.ec256, "ES256"}, {k.ec384, "ES384"}} {
		t.Run(tc.alg, func(t *testing.T) {
			out, err := runPy(t, claims, "sign", "--key", writeFile(t, "k.pem", pkcs8PEM(t, tc.key)), "--alg", tc.alg, "--kid", tc.key.KeyID)
			if err != nil {
				t.Fatal(err)
			}
			token := string(out)
			cfg := configNoAlg(t, k.rsa, k.ec256, k.ec384)
			tok, err := oidc.Verify(context.Background(), token, cfg)
			if err != nil {
				t.Fatalf("python3-jwt %s token refused: %v", tc.alg, err)
			}
			if tok.Subject != "repo:org/app:ref:refs/heads/main" || tok.Claims["repository_owner"] != "org" {
				t.Errorf("token %+v", tok)
			}
			// One byte changed in the payload: refused.
			parts := strings.Split(token, ".")
			tampered := parts[0] + "." + flip(parts[1]) + "." + parts[2]
			if _, err := oidc.Verify(context.Background(), tampered, cfg); err == nil {
				t.Error("tampered python3-jwt token accepted")
			}
		})
	}
}

func TestInteropOurTokensVerifyWithPyJWT(t *testing.T) {
	needPyJWT(t)
	k := keys(t)
	for _, tc := range []struct {
		key *idp.JWTKey
		alg string
	}{{k.rsa, "RS256"}, {k.rsa, "RS512"}, {k.rsa, "PS256"}, {k.ec256, "ES256"}, {k.ec384, "ES384"}} {
		t.Run(tc.alg, func(t *testing.T) {
			jwk := tc.key.PublicJWK()
			jwk["alg"] = tc.alg
			set, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
			jwksFile := writeFile(t, "jwks.json", set)
			o := opts(tc.key)
			o.Algorithm = tc.alg
			o.IssuedAt, o.Now = time.Now(), nil
			token := sign(t, o)
			args := []string{"verify", "--jwks", jwksFile, "--alg", tc.alg, "--aud", audience, "--iss", issuer}
			out, err := runPy(t, []byte(token), args...)
			if err != nil {
				t.Fatalf("python3-jwt refused our %s token: %v", tc.alg, err)
			}
			if !strings.Contains(string(out), o.Subject) {
				t.Errorf("claims %s", out)
			}
			parts := strings.Split(token, ".")
			if _, err := runPy(t, []byte(parts[0]+"."+parts[1]+"."+flip(parts[2])), args...); err == nil {
				t.Error("python3-jwt accepted a changed signature")
			}
			other := opts(k.other)
			other.Algorithm = tc.alg
			if tc.key != k.rsa { // sign with an unrelated key of the same type
				pk, _ := ecdsa.GenerateKey(map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384()}[tc.alg], rand.Reader)
				other.Key, _ = idp.NewJWTKey(pk)
			}
			other.Header = map[string]any{"kid": tc.key.KeyID}
			other.IssuedAt, other.Now = time.Now(), nil
			if _, err := runPy(t, []byte(sign(t, other)), args...); err == nil {
				t.Error("python3-jwt accepted a token signed by an unrelated key")
			}
		})
	}
}

// TestInteropGoJoseSignedAccepted: go-jose's own signer (what Dex and many
// Go issuers use) produces tokens the verifier accepts.
func TestInteropGoJoseSignedAccepted(t *testing.T) {
	k := keys(t)
	for _, tc := range []struct {
		key *idp.JWTKey
		alg jose.SignatureAlgorithm
	}{{k.rsa, jose.RS256}, {k.rsa, jose.PS384}, {k.ec256, jose.ES256}, {k.ec384, jose.ES384}} {
		t.Run(string(tc.alg), func(t *testing.T) {
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: tc.alg, Key: jose.JSONWebKey{Key: tc.key.Signer, KeyID: tc.key.KeyID}},
				(&jose.SignerOptions{}).WithType("JWT"))
			if err != nil {
				t.Fatal(err)
			}
			payload, _ := json.Marshal(map[string]any{"iss": issuer, "sub": "dex-user", "aud": audience,
				"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "email": "a@example.com"})
			jws, err := signer.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			token, err := jws.CompactSerialize()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := oidc.Verify(context.Background(), token, configNoAlg(t, k.rsa, k.ec256, k.ec384)); err != nil {
				t.Fatalf("go-jose %s token refused: %v", tc.alg, err)
			}
		})
	}
}
