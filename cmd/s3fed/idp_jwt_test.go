package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/oidc"
	"github.com/s3fed/s3fed/internal/oidc/discovery"
)

func TestIdpKeygenJWTCmd(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		files   [2]string
		alg     string
		wantErr string
	}{
		{name: "defaults", files: [2]string{"idp-jwt-key.pem", "idp-jwks.json"}, alg: "RS256"},
		{name: "es384 custom paths", args: []string{"--key-type", "es384", "--out-key", "k.pem", "--out-jwks", "j.json"}, files: [2]string{"k.pem", "j.json"}, alg: "ES384"},
		{name: "SAML key type", args: []string{"--key-type", "ecdsa-p256"}, wantErr: "unknown JWT key kind"},
		{name: "same file", args: []string{"--out-key", "x", "--out-jwks", "x"}, wantErr: "different files"},
		{name: "unknown kind", args: []string{"--kind", "x509"}, wantErr: `--kind "x509"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"keygen"}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--kind") {
				args = append(args, "--kind", "jwt")
			}
			out, err := runIdp(t, dir, args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				if ents, _ := os.ReadDir(dir); len(ents) != 0 {
					t.Errorf("files left behind: %v", ents)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			jwks, err := os.ReadFile(filepath.Join(dir, tc.files[1]))
			if err != nil {
				t.Fatal(err)
			}
			set, err := oidc.ParseJWKS(jwks)
			if err != nil || set.Len() != 1 || set.Keys()[0].Algorithm != tc.alg {
				t.Fatalf("JWKS %s: %v", jwks, err)
			}
			if fi, err := os.Stat(filepath.Join(dir, tc.files[0])); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("key file: %v %v", fi, err)
			}
			if !strings.Contains(out, set.Keys()[0].ID) {
				t.Errorf("output does not name the kid: %s", out)
			}
			if _, err := runIdp(t, dir, args...); err == nil || !strings.Contains(err.Error(), "already exists") {
				t.Errorf("second run: %v", err)
			}
		})
	}
}

func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIdpSignJWTCmd(t *testing.T) {
	dir := t.TempDir()
	if _, err := runIdp(t, dir, "keygen", "--kind", "jwt", "--key-type", "es256"); err != nil {
		t.Fatal(err)
	}
	jwks, _ := os.ReadFile(filepath.Join(dir, "idp-jwks.json"))
	set, err := oidc.ParseJWKS(jwks)
	if err != nil {
		t.Fatal(err)
	}
	out, err := runIdp(t, dir, "sign-jwt", "--sub", "system:serviceaccount:data:ingest", "--aud", "s3fed",
		"--claim", "https://coreweave.com/claims/role=reader", "--claim", `groups=["data-eng","ml"]`, "--claim", "n=42", "--claim", "note=not json")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &oidc.Config{Issuer: "https://s3fed-test-idp.example", Audience: "s3fed", Keys: oidc.StaticKeys{Set: set}}
	tok, err := oidc.Verify(context.Background(), strings.TrimSpace(out), cfg)
	if err != nil {
		t.Fatalf("the printed token does not verify: %v", err)
	}
	if tok.Subject != "system:serviceaccount:data:ingest" || tok.Claims["https://coreweave.com/claims/role"] != "reader" ||
		tok.Claims["n"] != float64(42) || tok.Claims["note"] != "not json" || len(tok.Claims["groups"].([]any)) != 2 {
		t.Errorf("claims %v", tok.Claims)
	}
	if exp := tok.Expiry.Sub(tok.IssuedAt); exp != time.Hour {
		t.Errorf("lifetime %s", exp)
	}

	out, err = runIdp(t, dir, "sign-jwt", "--sub", "a", "--aud", "x", "--aud", "y", "--iss", "https://other.example", "--ttl", "5m", "--out", "t.jwt")
	if err != nil || out != "" {
		t.Fatalf("--out: %q %v", out, err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "t.jwt"))
	c := jwtClaims(t, string(b))
	if aud, ok := c["aud"].([]any); !ok || len(aud) != 2 || c["iss"] != "https://other.example" || c["exp"].(float64)-c["iat"].(float64) != 300 {
		t.Errorf("claims %v", c)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--aud", "x"}, `"sub" not set`},
		{[]string{"--sub", "a"}, `"aud" not set`},
		{[]string{"--sub", "a", "--aud", "x", "--ttl", "25h"}, "--ttl 25h0m0s out of range"},
		{[]string{"--sub", "a", "--aud", "x", "--ttl", "0s"}, "out of range"},
		{[]string{"--sub", "a", "--aud", "x", "--claim", "k=1", "--claim", "k=2"}, "given twice"},
		{[]string{"--sub", "a", "--aud", "x", "--claim", "novalue"}, "want NAME=VALUE"},
		{[]string{"--sub", "a", "--aud", "x", "--alg", "HS256"}, "does not suit"},
		{[]string{"--sub", "a", "--aud", "x", "--key", "missing.pem"}, "idp keygen --kind jwt"},
	} {
		if _, err := runIdp(t, dir, append([]string{"sign-jwt"}, tc.args...)...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestIdpSignJWTServe: --serve serves discovery over https with a
// certificate written to --serve-ca; discovery trusting only that file
// fetches the keys and the printed token verifies. The command stops when
// its context ends.
func TestIdpSignJWTServe(t *testing.T) {
	dir := t.TempDir()
	if _, err := runIdp(t, dir, "keygen", "--kind", "jwt"); err != nil {
		t.Fatal(err)
	}
	cmd := newIdpCmd()
	pr, pw := io.Pipe()
	var stdout strings.Builder
	cmd.SetOut(&stdout)
	cmd.SetErr(pw)
	cmd.SetArgs([]string{"sign-jwt", "--sub", "ci", "--aud", "s3fed", "--serve", "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx); pw.Close() }()

	issuer := ""
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "issuer: "); ok {
			issuer = v
		}
		if strings.HasPrefix(sc.Text(), "serving") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if !strings.HasPrefix(issuer, "https://127.0.0.1:") {
		cancel()
		t.Fatalf("issuer line %q (command: %v)", issuer, <-done)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "idp-issuer-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	src, err := discovery.New(issuer, discovery.Options{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := oidc.Verify(context.Background(), strings.TrimSpace(stdout.String()), &oidc.Config{Issuer: issuer, Audience: "s3fed", Keys: src})
	if err != nil {
		t.Fatalf("token via discovery: %v", err)
	}
	if tok.Issuer != issuer {
		t.Errorf("iss %s", tok.Issuer)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("command after interrupt: %v", err)
	}
}

func TestIdpJWTHelp(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"sign-jwt", "--kind jwt"}},
		{[]string{"keygen", "--help"}, []string{"--kind", "--out-jwks", "rs256, es256, es384"}},
		{[]string{"sign-jwt", "--help"}, []string{"--sub", "--aud", "--claim", "--serve", "--serve-ca", "SSL_CERT_FILE", "oidcToken"}},
	} {
		out, err := runIdp(t, t.TempDir(), tt.args...)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v help lacks %q", tt.args, w)
			}
		}
	}
}
