package idp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestKeygenJWT(t *testing.T) {
	for _, tc := range []struct {
		kind JWTKeyKind
		alg  string
	}{{JWTKeyRS256, "RS256"}, {"", "RS256"}, {JWTKeyES256, "ES256"}, {JWTKeyES384, "ES384"}} {
		pemBytes, err := KeygenJWT(tc.kind)
		if err != nil {
			t.Fatalf("%s: %v", tc.kind, err)
		}
		k, err := ParseJWTKey(pemBytes)
		if err != nil {
			t.Fatalf("%s: %v", tc.kind, err)
		}
		if k.Algorithm != tc.alg || len(k.KeyID) != 43 {
			t.Errorf("%s: alg %s kid %q", tc.kind, k.Algorithm, k.KeyID)
		}
		again, _ := ParseJWTKey(pemBytes)
		if again.KeyID != k.KeyID {
			t.Errorf("%s: kid not stable for one key", tc.kind)
		}
	}
	if _, err := KeygenJWT("hs256"); err == nil || !strings.Contains(err.Error(), "rs256, es256, es384") {
		t.Errorf("unknown kind: %v", err)
	}
}

func TestParseJWTKeyErrors(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	enc := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	p521DER, _ := x509.MarshalECPrivateKey(p521)
	for name, in := range map[string][]byte{
		"not PEM":       []byte("hello"),
		"certificate":   enc("CERTIFICATE", []byte{1}),
		"RSA 1024":      enc("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)),
		"P-521":         enc("EC PRIVATE KEY", p521DER),
		"garbage PKCS8": enc("PRIVATE KEY", []byte{1, 2, 3}),
	} {
		if _, err := ParseJWTKey(in); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// TestThumbprintRFC7638 checks the kid against RFC 7638 §3.1's example.
func TestThumbprintRFC7638(t *testing.T) {
	jwk := map[string]any{
		"kty": "RSA", "e": "AQAB",
		"n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
	}
	if got := thumbprint(jwk); got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Errorf("thumbprint %s", got)
	}
}

func TestSignJWT(t *testing.T) {
	pemBytes, _ := KeygenJWT(JWTKeyES256)
	k, _ := ParseJWTKey(pemBytes)
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	tok, err := SignJWT(JWTOptions{Key: k, Subject: "alice", Audience: []string{"a", "b"}, NotBefore: now,
		Claims: map[string]any{"groups": []string{"g"}}, Header: map[string]any{"typ": nil, "x": "y"}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || len(parts[2]) != 86 { // ES256: 64 raw bytes
		t.Fatalf("token %s", tok)
	}
	var hdr, claims map[string]any
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(h, &hdr)
	_ = json.Unmarshal(p, &claims)
	if hdr["alg"] != "ES256" || hdr["kid"] != k.KeyID || hdr["x"] != "y" || hdr["typ"] != nil {
		t.Errorf("header %v", hdr)
	}
	if claims["iss"] != DefaultJWTIssuer || claims["sub"] != "alice" || claims["iat"] != float64(now.Unix()) ||
		claims["exp"] != float64(now.Add(DefaultJWTLifetime).Unix()) || claims["nbf"] != float64(now.Unix()) {
		t.Errorf("claims %v", claims)
	}
	if aud, ok := claims["aud"].([]any); !ok || len(aud) != 2 {
		t.Errorf("aud %v", claims["aud"])
	}
	for name, o := range map[string]JWTOptions{
		"no key":              {Subject: "s", Audience: []string{"a"}},
		"no subject":          {Key: k, Audience: []string{"a"}},
		"no audience":         {Key: k, Subject: "s"},
		"alg not for the key": {Key: k, Subject: "s", Audience: []string{"a"}, Algorithm: "RS256"},
		"ES384 on P-256":      {Key: k, Subject: "s", Audience: []string{"a"}, Algorithm: "ES384"},
		"HS256":               {Key: k, Subject: "s", Audience: []string{"a"}, Algorithm: "HS256"},
	} {
		if _, err := SignJWT(o); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
}

func TestIssuerHandler(t *testing.T) {
	pemBytes, _ := KeygenJWT(JWTKeyRS256)
	k, _ := ParseJWTKey(pemBytes)
	h := &IssuerHandler{JWKS: JWKS(k)}
	srv := httptest.NewServer(h)
	defer srv.Close()
	h.Issuer = srv.URL + "/realms/test/"
	get := func(path string) (int, string, http.Header) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	code, body, hdr := get("/realms/test/.well-known/openid-configuration")
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); code != 200 || err != nil || doc["issuer"] != h.Issuer || doc["jwks_uri"] != srv.URL+"/realms/test/jwks" {
		t.Errorf("discovery: %d %s", code, body)
	}
	if hdr.Get("Cache-Control") != "public, max-age=300" {
		t.Errorf("Cache-Control %q", hdr.Get("Cache-Control"))
	}
	if code, body, _ := get("/realms/test/jwks"); code != 200 || body != string(JWKS(k)) {
		t.Errorf("jwks: %d %s", code, body)
	}
	h.SetCacheControl("max-age=5")
	h.SetJWKS([]byte(`{"keys":[]}`))
	if _, body, hdr := get("/realms/test/jwks"); body != `{"keys":[]}` || hdr.Get("Cache-Control") != "max-age=5" {
		t.Errorf("after Set: %s %v", body, hdr)
	}
	if code, _, _ := get("/.well-known/openid-configuration"); code != 404 {
		t.Errorf("discovery outside the issuer path: %d", code)
	}
	resp, _ := http.Post(srv.URL+"/realms/test/jwks", "text/plain", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	if h.Requests() != 5 || h.DiscoveryRequests() != 1 || h.JWKSRequests() != 2 {
		t.Errorf("counts %d %d %d", h.Requests(), h.DiscoveryRequests(), h.JWKSRequests())
	}
}
