package oidc_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/oidc"
)

func jwk(t *testing.T, k *idp.JWTKey, edit func(map[string]any)) map[string]any {
	t.Helper()
	m := k.PublicJWK()
	if edit != nil {
		edit(m)
	}
	return m
}

func setDoc(keys ...map[string]any) []byte {
	doc, _ := json.Marshal(map[string]any{"keys": keys})
	return doc
}

func TestParseJWKS(t *testing.T) {
	k := keys(t)
	b64 := base64.RawURLEncoding.EncodeToString
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	okp := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(edPub), "kid": "ed"}
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	ec521 := map[string]any{"kty": "EC", "crv": "P-521", "x": b64(p521.X.Bytes()), "y": b64(p521.Y.Bytes()), "kid": "p521"}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsa1024 := map[string]any{"kty": "RSA", "n": b64(small.N.Bytes()), "e": "AQAB", "kid": "small"}
	private := jwk(t, k.rsa, func(m map[string]any) { m["d"] = b64(k.rsaPriv.D.Bytes()) })

	tests := []struct {
		name      string
		doc       []byte
		wantKeys  int
		wantSkip  int
		wantError string
	}{
		{name: "three keys", doc: idp.JWKS(k.rsa, k.ec256, k.ec384), wantKeys: 3},
		{name: "enc key skipped", doc: setDoc(jwk(t, k.rsa, nil), jwk(t, k.rsa2, func(m map[string]any) { m["use"] = "enc"; m["alg"] = "RSA-OAEP" })), wantKeys: 1, wantSkip: 1},
		{name: "key_ops without verify skipped", doc: setDoc(jwk(t, k.rsa, nil), jwk(t, k.rsa2, func(m map[string]any) { m["key_ops"] = []string{"encrypt"} })), wantKeys: 1, wantSkip: 1},
		{name: "key_ops with verify kept", doc: setDoc(jwk(t, k.rsa, func(m map[string]any) { m["key_ops"] = []string{"verify"} })), wantKeys: 1},
		{name: "EdDSA skipped", doc: setDoc(jwk(t, k.rsa, nil), okp), wantKeys: 1, wantSkip: 1},
		{name: "P-521 skipped", doc: setDoc(jwk(t, k.rsa, nil), ec521), wantKeys: 1, wantSkip: 1},
		{name: "HS256 alg skipped", doc: setDoc(jwk(t, k.rsa, nil), jwk(t, k.rsa2, func(m map[string]any) { m["alg"] = "HS256" })), wantKeys: 1, wantSkip: 1},
		{name: "no kid", doc: setDoc(jwk(t, k.rsa, func(m map[string]any) { delete(m, "kid") })), wantKeys: 1},
		{name: "shared kid", doc: setDoc(jwk(t, k.rsa, nil), jwk(t, k.rsa2, func(m map[string]any) { m["kid"] = k.rsa.KeyID })), wantKeys: 2},

		{name: "only unusable keys", doc: setDoc(okp), wantError: "no usable signing key"},
		{name: "empty keys", doc: []byte(`{"keys":[]}`), wantError: "no keys"},
		{name: "no keys member", doc: []byte(`{"kty":"RSA"}`), wantError: `"keys" array`},
		{name: "private RSA key", doc: setDoc(private), wantError: "private or symmetric"},
		{name: "symmetric key", doc: setDoc(map[string]any{"kty": "oct", "k": "c2VjcmV0"}), wantError: "private or symmetric"},
		{name: "RSA 1024", doc: setDoc(rsa1024), wantError: "1024 bits"},
		{name: "alg not fitting the key", doc: setDoc(jwk(t, k.rsa, func(m map[string]any) { m["alg"] = "ES256" })), wantError: "does not fit"},
		{name: "EC point off the curve", doc: setDoc(jwk(t, k.ec256, func(m map[string]any) { m["y"] = b64(big.NewInt(5).FillBytes(make([]byte, 32))) })), wantError: "malformed EC key"},
		{name: "kty missing", doc: setDoc(map[string]any{"n": "AQAB"}), wantError: `"kty" is missing`},
		{name: "kid not a string", doc: setDoc(jwk(t, k.rsa, func(m map[string]any) { m["kid"] = 1 })), wantError: `"kid" is not a string`},
		{name: "kid too long", doc: setDoc(jwk(t, k.rsa, func(m map[string]any) { m["kid"] = strings.Repeat("k", oidc.MaxKeyIDBytes+1) })), wantError: "kid is 257 bytes"},
		{name: "duplicate member", doc: []byte(fmt.Sprintf(`{"keys":[{"kty":"RSA","n":%q,"e":"AQAB","e":"Aw"}]}`, k.rsa.PublicJWK()["n"])), wantError: "duplicate JSON member"},
		{name: "trailing data", doc: append(idp.JWKS(k.rsa), []byte(`{}`)...), wantError: "trailing data"},
		{name: "too many keys", doc: setDoc(manyKeys(t, k.rsa, oidc.MaxJWKSKeys+1)...), wantError: "33 keys"},
		{name: "too large", doc: append(idp.JWKS(k.rsa)[:len(idp.JWKS(k.rsa))-1], []byte(`,"pad":"`+strings.Repeat("x", oidc.MaxJWKSBytes)+`"}`)...), wantError: "at most 65536"},
		{name: "key not an object", doc: []byte(`{"keys":["x"]}`), wantError: "not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := oidc.ParseJWKS(tc.doc)
			if tc.wantError != "" {
				var je *oidc.JWKSError
				if set != nil || !errors.As(err, &je) || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("ParseJWKS = %v, %v; want a *JWKSError containing %q", set, err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if set.Len() != tc.wantKeys || len(set.Skipped()) != tc.wantSkip {
				t.Errorf("%d keys, skipped %q; want %d keys, %d skipped", set.Len(), set.Skipped(), tc.wantKeys, tc.wantSkip)
			}
		})
	}
	// MaxJWKSKeys keys exactly is accepted.
	if set, err := oidc.ParseJWKS(setDoc(manyKeys(t, k.rsa, oidc.MaxJWKSKeys)...)); err != nil || set.Len() != oidc.MaxJWKSKeys {
		t.Errorf("%d keys: %v", oidc.MaxJWKSKeys, err)
	}
}

func manyKeys(t *testing.T, k *idp.JWTKey, n int) []map[string]any {
	var out []map[string]any
	for i := range n {
		out = append(out, jwk(t, k, func(m map[string]any) { m["kid"] = fmt.Sprint("k", i) }))
	}
	return out
}

func TestDecodeStrictObject(t *testing.T) {
	ok := map[string]string{
		"nested":  `{"a":{"b":[1,2,{"c":null}]},"d":true}`,
		"escapes": `{"a\u0062":"\u00e9"}`,
		"spaces":  " {\"a\" : 1 } \n",
	}
	for name, in := range ok {
		if _, err := oidc.DecodeStrictObject([]byte(in)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string]string{
		"dup":                       `{"a":1,"a":1}`,
		"dup escaped":               `{"a":1,"\u0061":2}`,
		"dup nested":                `{"x":[{"a":1,"a":2}]}`,
		"array":                     `[1]`,
		"string":                    `"a"`,
		"trailing":                  `{} x`,
		"two objects":               `{}{}`,
		"invalid utf8":              "{\"a\":\"\xc3\x28\"}",
		"deep":                      strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40),
		"number overflow":           `{"a":1e400}`,
		"unterminated":              `{"a":1`,
		"bare word":                 `{"a":tru}`,
		"comment":                   `{"a":1 /* x */}`,
		"single quotes":             `{'a':1}`,
		"trailing comma":            `{"a":1,}`,
		"lone surrogate ok but dup": `{"\ud800":1,"\ufffd":2}`,
	}
	for name, in := range bad {
		if _, err := oidc.DecodeStrictObject([]byte(in)); err == nil {
			t.Errorf("%s: %q accepted", name, in)
		}
	}
}
