package oidc_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/oidc"
)

var b64 = base64.RawURLEncoding.EncodeToString

func TestVerifyAccepts(t *testing.T) {
	k := keys(t)
	cfg := config(t)
	tests := []struct {
		name string
		o    func() idp.JWTOptions
		cfg  func() *oidc.Config
	}{
		{name: "RS256", o: func() idp.JWTOptions { return opts(k.rsa) }},
		{name: "RS384", o: func() idp.JWTOptions { o := opts(k.rsa); o.Algorithm = "RS384"; return o },
			cfg: func() *oidc.Config { return configNoAlg(t, k.rsa) }},
		{name: "RS512", o: func() idp.JWTOptions { o := opts(k.rsa); o.Algorithm = "RS512"; return o },
			cfg: func() *oidc.Config { return configNoAlg(t, k.rsa) }},
		{name: "PS256", o: func() idp.JWTOptions { o := opts(k.rsa); o.Algorithm = "PS256"; return o },
			// the JWK names alg RS256, which pins it: use a set without alg.
			cfg: func() *oidc.Config { return configNoAlg(t, k.rsa) }},
		{name: "PS384", o: func() idp.JWTOptions { o := opts(k.rsa); o.Algorithm = "PS384"; return o },
			cfg: func() *oidc.Config { return configNoAlg(t, k.rsa) }},
		{name: "PS512", o: func() idp.JWTOptions { o := opts(k.rsa); o.Algorithm = "PS512"; return o },
			cfg: func() *oidc.Config { return configNoAlg(t, k.rsa) }},
		{name: "ES256", o: func() idp.JWTOptions { return opts(k.ec256) }},
		{name: "ES384", o: func() idp.JWTOptions { return opts(k.ec384) }},
		{name: "aud array with ours", o: func() idp.JWTOptions {
			o := opts(k.rsa)
			o.Audience = []string{"other", audience, "third"}
			return o
		}},
		{name: "no kid, one fitting key", o: func() idp.JWTOptions {
			o := opts(k.ec256)
			o.Header = map[string]any{"kid": nil}
			return o
		}},
		{name: "no kid, tried against every RSA key", o: func() idp.JWTOptions {
			o := opts(k.rsa2)
			o.Header = map[string]any{"kid": nil}
			return o
		}, cfg: func() *oidc.Config { return config(t, k.rsa, k.rsa2, k.ec256) }},
		{name: "x5t and typ are ignored", o: func() idp.JWTOptions {
			o := opts(k.rsa)
			o.Header = map[string]any{"x5t": "abc", "typ": "at+jwt"}
			return o
		}},
		{name: "fractional NumericDates", o: func() idp.JWTOptions {
			o := opts(k.rsa)
			o.Claims = map[string]any{"iat": float64(now.Unix()) - 0.5, "exp": float64(now.Unix()) + 10.25, "nbf": float64(now.Unix()) - 1.75}
			return o
		}},
		{name: "nbf within skew", o: func() idp.JWTOptions {
			o := opts(k.rsa)
			o.NotBefore = now.Add(59 * time.Second)
			return o
		}},
		{name: "iat within skew in the future", o: func() idp.JWTOptions {
			o := opts(k.rsa)
			o.IssuedAt = now.Add(59 * time.Second)
			return o
		}},
		{name: "iat 24h old", o: func() idp.JWTOptions {
			o := opts(k.rsa)
			o.IssuedAt = now.Add(-24 * time.Hour)
			o.Lifetime = 24*time.Hour + 30*time.Second
			return o
		}, cfg: func() *oidc.Config { c := config(t); c.MaxTokenLifetime = 48 * time.Hour; return c }},
		{name: "lifetime exactly the default maximum", o: func() idp.JWTOptions {
			o := opts(k.rsa)
			o.Lifetime = 24 * time.Hour
			return o
		}},
		{name: "azp different from aud (Google service-account tokens)", o: func() idp.JWTOptions {
			o := opts(k.rsa)
			o.Claims = map[string]any{"azp": "104592387650123456789"}
			return o
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			if tc.cfg != nil {
				c = tc.cfg()
			}
			o := tc.o()
			tok, err := verify(t, sign(t, o), c)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tok.Subject != o.Subject || tok.Issuer != issuer {
				t.Errorf("token %+v", tok)
			}
			if tok.Claims["sub"] != o.Subject {
				t.Errorf("claims %v", tok.Claims)
			}
		})
	}
}

// configNoAlg trusts ks through JWKs without "alg", as many IdPs publish them.
func configNoAlg(t testing.TB, ks ...*idp.JWTKey) *oidc.Config {
	t.Helper()
	var list []map[string]any
	for _, k := range ks {
		j := k.PublicJWK()
		delete(j, "alg")
		list = append(list, j)
	}
	doc, _ := json.Marshal(map[string]any{"keys": list})
	set, err := oidc.ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	c := config(t)
	c.Keys = oidc.StaticKeys{Set: set}
	return c
}

func TestVerifyTokenFields(t *testing.T) {
	k := keys(t)
	o := opts(k.ec256)
	o.Audience = []string{"x", audience}
	o.NotBefore = now.Add(-time.Minute)
	o.Claims = map[string]any{"azp": "client-1", "groups": []string{"a", "b"}, "kubernetes.io": map[string]any{"namespace": "data"}, "n": 42}
	tok, err := verify(t, sign(t, o), config(t))
	if err != nil {
		t.Fatal(err)
	}
	want := oidc.Token{
		Issuer: issuer, Subject: o.Subject, Audience: []string{"x", audience}, AuthorizedParty: "client-1",
		IssuedAt: now.Add(-5 * time.Minute), Expiry: now.Add(55 * time.Minute), NotBefore: now.Add(-time.Minute),
		KeyID: k.ec256.KeyID, Algorithm: "ES256",
	}
	got := *tok
	got.Claims = nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("token\n got %+v\nwant %+v", got, want)
	}
	if g, ok := tok.Claims["groups"].([]any); !ok || len(g) != 2 || g[1] != "b" {
		t.Errorf("groups claim %#v", tok.Claims["groups"])
	}
	if ns := tok.Claims["kubernetes.io"].(map[string]any)["namespace"]; ns != "data" {
		t.Errorf("nested claim %#v", ns)
	}
	if n := tok.Claims["n"]; n != float64(42) {
		t.Errorf("number claim %#v, want float64 42", n)
	}
}

// TestVerifyRefuses is the OIDC negative suite (issue 10, SAML-THREATS.md):
// every token is really signed (unless the case is about the signature),
// and each asserts the API error code and that no token is returned.
func TestVerifyRefuses(t *testing.T) {
	k := keys(t)
	cfg := config(t)

	// raw signs header and payload JSON exactly as written.
	raw := func(key *idp.JWTKey, alg, header, payload string) string {
		tok, err := idp.SignJWS([]byte(header), []byte(payload), key, alg)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	iat, exp := now.Add(-time.Minute).Unix(), now.Add(time.Hour).Unix()
	claims := func(extra string) string {
		return fmt.Sprintf(`{"iss":%q,"sub":"alice","aud":%q,"iat":%d,"exp":%d%s}`, issuer, audience, iat, exp, extra)
	}
	hdr := func(extra string) string { return fmt.Sprintf(`{"alg":"RS256","kid":%q%s}`, k.rsa.KeyID, extra) }
	with := func(f func(*idp.JWTOptions)) string {
		o := opts(k.rsa)
		f(&o)
		return sign(t, o)
	}
	good := sign(t, opts(k.rsa))
	parts := strings.Split(good, ".")

	// HS256 keyed with the RSA public key as published (PEM and DER): the
	// classic algorithm-confusion attack.
	pubDER, _ := x509.MarshalPKIXPublicKey(k.rsa.Signer.Public())
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs := func(secret []byte) string {
		in := b64([]byte(fmt.Sprintf(`{"alg":"HS256","kid":%q}`, k.rsa.KeyID))) + "." + b64([]byte(claims("")))
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		return in + "." + b64(m.Sum(nil))
	}

	// A real JWE (RSA-OAEP-256 + A256GCM) to the config's own RSA key.
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.RSA_OAEP_256, Key: k.rsa.Signer.Public()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jwe, err := enc.Encrypt([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	jweCompact, err := jwe.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}

	// A JWS JSON serialisation of a good token.
	jsonSer, _ := json.Marshal(map[string]string{"protected": parts[0], "payload": parts[1], "signature": parts[2]})

	// Oversized: a validly signed token one byte over the limit.
	over := oversized(t, k.rsa, oidc.MaxTokenBytes+1)

	// An attacker's server that counts requests: jku/x5u must never reach it.
	var hits atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write(idp.JWKS(k.other))
	}))
	defer evil.Close()
	attackerJWK, _ := json.Marshal(k.other.PublicJWK())
	attackerCert := selfSigned(t, k.other)

	inner := sign(t, opts(k.rsa))

	tests := []struct {
		name  string
		token string
		cfg   *oidc.Config
		want  oidc.Code
	}{
		// Algorithms.
		{"alg none, empty signature", b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(claims(""))) + ".", nil, oidc.CodeInvalidSignature},
		{"alg none with a signature part", b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(claims(""))) + "." + parts[2], nil, oidc.CodeInvalidSignature},
		{"alg None (case)", raw(k.rsa, "RS256", `{"alg":"None"}`, claims("")), nil, oidc.CodeInvalidSignature},
		{"HS256 keyed with the RSA public key PEM", hs(pubPEM), nil, oidc.CodeInvalidSignature},
		{"HS256 keyed with the RSA public key DER", hs(pubDER), nil, oidc.CodeInvalidSignature},
		{"EdDSA", raw(k.rsa, "RS256", `{"alg":"EdDSA"}`, claims("")), nil, oidc.CodeInvalidSignature},
		{"ES512", raw(k.rsa, "RS256", `{"alg":"ES512"}`, claims("")), nil, oidc.CodeInvalidSignature},
		{"alg missing", raw(k.rsa, "RS256", `{"kid":"x"}`, claims("")), nil, oidc.CodeInvalidToken},
		{"alg not a string", raw(k.rsa, "RS256", `{"alg":256}`, claims("")), nil, oidc.CodeInvalidToken},
		{"ES256 header naming the RSA key", raw(k.ec256, "ES256", fmt.Sprintf(`{"alg":"ES256","kid":%q}`, k.rsa.KeyID), claims("")), nil, oidc.CodeInvalidSignature},
		{"ES384 header naming the P-256 key", raw(k.ec384, "ES384", fmt.Sprintf(`{"alg":"ES384","kid":%q}`, k.ec256.KeyID), claims("")), nil, oidc.CodeInvalidSignature},
		{"PS256 with a JWK pinned to RS256", with(func(o *idp.JWTOptions) { o.Algorithm = "PS256" }), nil, oidc.CodeInvalidSignature},

		// Keys.
		{"kid of another config", sign(t, opts(k.other)), nil, oidc.CodeUntrustedKey},
		{"token of another org's issuer and key", with(func(o *idp.JWTOptions) { o.Key = k.other; o.Issuer = "https://other.example" }), nil, oidc.CodeUntrustedKey},
		{"unknown kid", with(func(o *idp.JWTOptions) { o.Header = map[string]any{"kid": "no-such-key"} }), nil, oidc.CodeUntrustedKey},
		{"our kid, attacker's signature", with(func(o *idp.JWTOptions) { o.Key = k.other; o.Header = map[string]any{"kid": k.rsa.KeyID} }), nil, oidc.CodeInvalidSignature},
		{"no kid, attacker's key", with(func(o *idp.JWTOptions) { o.Key = k.other; o.Header = map[string]any{"kid": nil} }), nil, oidc.CodeInvalidSignature},
		{"no kid, no key fits the alg", raw(k.ec384, "ES384", `{"alg":"ES384"}`, claims("")), config(t, k.rsa, k.ec256), oidc.CodeUntrustedKey},
		{"kid empty string", raw(k.rsa, "RS256", `{"alg":"RS256","kid":""}`, claims("")), nil, oidc.CodeInvalidToken},
		{"kid not a string", raw(k.rsa, "RS256", `{"alg":"RS256","kid":7}`, claims("")), nil, oidc.CodeInvalidToken},
		{"signature byte flipped", parts[0] + "." + parts[1] + "." + flip(parts[2]), nil, oidc.CodeInvalidSignature},
		{"payload edited after signing", parts[0] + "." + b64([]byte(claims(`,"admin":true`))) + "." + parts[2], nil, oidc.CodeInvalidSignature},

		// Header members that would make the token choose its own key.
		{"jku pointing elsewhere", with(func(o *idp.JWTOptions) { o.Key = k.other; o.Header = map[string]any{"jku": evil.URL + "/jwks"} }), nil, oidc.CodeInvalidToken},
		{"x5u pointing elsewhere", with(func(o *idp.JWTOptions) { o.Key = k.other; o.Header = map[string]any{"x5u": evil.URL + "/cert.pem"} }), nil, oidc.CodeInvalidToken},
		{"jwk embedding the attacker's key", with(func(o *idp.JWTOptions) {
			o.Key = k.other
			o.Header = map[string]any{"jwk": json.RawMessage(attackerJWK)}
		}), nil, oidc.CodeInvalidToken},
		{"x5c embedding the attacker's certificate", with(func(o *idp.JWTOptions) { o.Key = k.other; o.Header = map[string]any{"x5c": []string{attackerCert}} }), nil, oidc.CodeInvalidToken},
		{"jku on a token our key signed", with(func(o *idp.JWTOptions) { o.Header = map[string]any{"jku": evil.URL + "/jwks"} }), nil, oidc.CodeInvalidToken},
		{"crit", with(func(o *idp.JWTOptions) { o.Header = map[string]any{"crit": []string{"exp"}, "exp": 1} }), nil, oidc.CodeInvalidToken},
		{"crit empty", with(func(o *idp.JWTOptions) { o.Header = map[string]any{"crit": []string{}} }), nil, oidc.CodeInvalidToken},
		{"b64 false", with(func(o *idp.JWTOptions) { o.Header = map[string]any{"b64": false} }), nil, oidc.CodeInvalidToken},

		// Issuer and audience.
		{"wrong iss", with(func(o *idp.JWTOptions) { o.Issuer = "https://evil.example.com" }), nil, oidc.CodeIssuer},
		{"iss with a trailing slash", with(func(o *idp.JWTOptions) { o.Issuer = issuer + "/" }), nil, oidc.CodeIssuer},
		{"iss in another case", with(func(o *idp.JWTOptions) { o.Issuer = strings.ToUpper(issuer) }), nil, oidc.CodeIssuer},
		{"iss http", with(func(o *idp.JWTOptions) { o.Issuer = "http://idp.example.com" }), nil, oidc.CodeIssuer},
		{"aud mismatch", with(func(o *idp.JWTOptions) { o.Audience = []string{"someone-else"} }), nil, oidc.CodeAudience},
		{"aud prefix of ours", with(func(o *idp.JWTOptions) { o.Audience = []string{audience + "x"} }), nil, oidc.CodeAudience},
		{"aud array without ours", with(func(o *idp.JWTOptions) { o.Audience = []string{"a", "b"} }), nil, oidc.CodeAudience},
		{"aud empty array", with(func(o *idp.JWTOptions) { o.Claims = map[string]any{"aud": []string{}} }), nil, oidc.CodeInvalidToken},
		{"aud array with a number", with(func(o *idp.JWTOptions) { o.Claims = map[string]any{"aud": []any{audience, 1}} }), nil, oidc.CodeInvalidToken},
		{"aud missing", raw(k.rsa, "RS256", hdr(""), fmt.Sprintf(`{"iss":%q,"sub":"a","iat":%d,"exp":%d}`, issuer, iat, exp)), nil, oidc.CodeInvalidToken},
		{"iss missing", raw(k.rsa, "RS256", hdr(""), fmt.Sprintf(`{"sub":"a","aud":%q,"iat":%d,"exp":%d}`, audience, iat, exp)), nil, oidc.CodeInvalidToken},
		{"azp not a string", with(func(o *idp.JWTOptions) { o.Claims = map[string]any{"azp": 5} }), nil, oidc.CodeInvalidToken},

		// Time.
		{"expired", with(func(o *idp.JWTOptions) { o.IssuedAt = now.Add(-2 * time.Hour) }), nil, oidc.CodeExpired},
		{"expired beyond the skew", with(func(o *idp.JWTOptions) { o.IssuedAt = now.Add(-61*time.Second - time.Hour) }), nil, oidc.CodeExpired},
		{"nbf in the future", with(func(o *idp.JWTOptions) { o.NotBefore = now.Add(2 * time.Minute) }), nil, oidc.CodeNotYetValid},
		{"iat too old", with(func(o *idp.JWTOptions) {
			o.IssuedAt = now.Add(-24*time.Hour - 2*time.Minute)
			o.Lifetime = 25 * time.Hour
		}), withLifetime(config(t), 48*time.Hour), oidc.CodeExpired},
		{"iat in the future", with(func(o *idp.JWTOptions) { o.IssuedAt = now.Add(2 * time.Minute) }), nil, oidc.CodeNotYetValid},
		{"exp missing", raw(k.rsa, "RS256", hdr(""), fmt.Sprintf(`{"iss":%q,"sub":"a","aud":%q,"iat":%d}`, issuer, audience, iat)), nil, oidc.CodeInvalidToken},
		{"iat missing", raw(k.rsa, "RS256", hdr(""), fmt.Sprintf(`{"iss":%q,"sub":"a","aud":%q,"exp":%d}`, issuer, audience, exp)), nil, oidc.CodeInvalidToken},
		{"exp a string", with(func(o *idp.JWTOptions) { o.Claims = map[string]any{"exp": fmt.Sprint(exp)} }), nil, oidc.CodeInvalidToken},
		{"exp negative", with(func(o *idp.JWTOptions) { o.Claims = map[string]any{"exp": -1} }), nil, oidc.CodeInvalidToken},
		{"exp after year 9999", with(func(o *idp.JWTOptions) { o.Claims = map[string]any{"exp": 1e12} }), nil, oidc.CodeInvalidToken},
		{"exp before iat", with(func(o *idp.JWTOptions) { o.Claims = map[string]any{"exp": o.IssuedAt.Unix() - 1} }), nil, oidc.CodeInvalidToken},
		{"exp equal to iat", with(func(o *idp.JWTOptions) { o.Claims = map[string]any{"exp": o.IssuedAt.Unix()} }), nil, oidc.CodeInvalidToken},
		{"nbf a string", with(func(o *idp.JWTOptions) { o.Claims = map[string]any{"nbf": "0"} }), nil, oidc.CodeInvalidToken},
		{"lifetime over maxTokenLifetimeSeconds", with(func(o *idp.JWTOptions) { o.Lifetime = time.Hour + time.Second }), withLifetime(config(t), time.Hour), oidc.CodeInvalidToken},
		{"lifetime over the default day", with(func(o *idp.JWTOptions) { o.Lifetime = 24*time.Hour + time.Second }), nil, oidc.CodeInvalidToken},

		// Subject.
		{"sub a number", with(func(o *idp.JWTOptions) { o.Claims = map[string]any{"sub": 1234} }), nil, oidc.CodeInvalidToken},
		{"sub an object", with(func(o *idp.JWTOptions) { o.Claims = map[string]any{"sub": map[string]any{"id": "a"}} }), nil, oidc.CodeInvalidToken},
		{"sub an array", with(func(o *idp.JWTOptions) { o.Claims = map[string]any{"sub": []string{"a"}} }), nil, oidc.CodeInvalidToken},
		{"sub null", with(func(o *idp.JWTOptions) { o.Claims = map[string]any{"sub": nil} }), nil, oidc.CodeInvalidToken},
		{"sub true", with(func(o *idp.JWTOptions) { o.Claims = map[string]any{"sub": true} }), nil, oidc.CodeInvalidToken},
		{"sub empty", with(func(o *idp.JWTOptions) { o.Claims = map[string]any{"sub": ""} }), nil, oidc.CodeInvalidToken},
		{"sub missing", raw(k.rsa, "RS256", hdr(""), fmt.Sprintf(`{"iss":%q,"aud":%q,"iat":%d,"exp":%d}`, issuer, audience, iat, exp)), nil, oidc.CodeInvalidToken},

		// Duplicate JSON members: two parsers must never see two values.
		{"duplicate alg in header", raw(k.rsa, "RS256", fmt.Sprintf(`{"alg":"RS256","kid":%q,"alg":"none"}`, k.rsa.KeyID), claims("")), nil, oidc.CodeInvalidToken},
		{"duplicate kid in header", raw(k.rsa, "RS256", fmt.Sprintf(`{"alg":"RS256","kid":%q,"kid":%q}`, k.rsa.KeyID, k.rsa.KeyID), claims("")), nil, oidc.CodeInvalidToken},
		{"duplicate sub in payload", raw(k.rsa, "RS256", hdr(""), claims(`,"sub":"admin"`)), nil, oidc.CodeInvalidToken},
		{"duplicate sub spelled with an escape", raw(k.rsa, "RS256", hdr(""), claims(`,"s\u0075b":"admin"`)), nil, oidc.CodeInvalidToken},
		{"duplicate member in a nested claim", raw(k.rsa, "RS256", hdr(""), claims(`,"k":{"a":1,"a":2}`)), nil, oidc.CodeInvalidToken},
		{"case-variant SUB is a different claim, but sub then duplicates", raw(k.rsa, "RS256", hdr(""), claims(`,"SUB":"x","sub":"admin"`)), nil, oidc.CodeInvalidToken},
		{"invalid UTF-8 in payload", raw(k.rsa, "RS256", hdr(""), claims(",\"x\":\"\xff\"")), nil, oidc.CodeInvalidToken},
		{"payload not an object", raw(k.rsa, "RS256", hdr(""), `["a"]`), nil, oidc.CodeInvalidToken},
		{"payload with trailing JSON", raw(k.rsa, "RS256", hdr(""), claims("")+`{}`), nil, oidc.CodeInvalidToken},
		{"payload nested too deep", raw(k.rsa, "RS256", hdr(""), claims(`,"d":`+strings.Repeat("[", 40)+strings.Repeat("]", 40))), nil, oidc.CodeInvalidToken},
		{"header not JSON", raw(k.rsa, "RS256", `alg=RS256`, claims("")), nil, oidc.CodeInvalidToken},

		// JWE, nesting, serialisation.
		{"JWE compact", jweCompact, nil, oidc.CodeInvalidToken},
		{"JWE header members on a JWS", with(func(o *idp.JWTOptions) { o.Header = map[string]any{"enc": "A256GCM"} }), nil, oidc.CodeInvalidToken},
		{"nested JWS with cty JWT", raw(k.rsa, "RS256", hdr(`,"cty":"JWT"`), inner), nil, oidc.CodeInvalidToken},
		{"nested JWS without cty", raw(k.rsa, "RS256", hdr(""), inner), nil, oidc.CodeInvalidToken},
		{"JWS JSON serialisation", string(jsonSer), nil, oidc.CodeInvalidToken},
		{"two parts", parts[0] + "." + parts[1], nil, oidc.CodeInvalidToken},
		{"four parts", good + ".x", nil, oidc.CodeInvalidToken},
		{"empty", "", nil, oidc.CodeInvalidToken},

		// Size and trailing garbage.
		{"oversized", over, nil, oidc.CodeInvalidToken},
		{"trailing garbage", good + "garbage", nil, oidc.CodeInvalidToken},
		{"trailing base64 that decodes", good + "AAAA", nil, oidc.CodeInvalidSignature},
		{"trailing dot", good + ".", nil, oidc.CodeInvalidToken},
		{"trailing space", good + " ", nil, oidc.CodeInvalidToken},
		{"trailing newline", good + "\n", nil, oidc.CodeInvalidToken},
		{"leading space", " " + good, nil, oidc.CodeInvalidToken},
		{"padding", good + "==", nil, oidc.CodeInvalidToken},
		{"standard base64 alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+/", nil, oidc.CodeInvalidToken},
		{"non-canonical trailing bits", parts[0] + "." + parts[1] + "." + noncanonical(parts[2]), nil, oidc.CodeInvalidToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			if tc.cfg != nil {
				c = tc.cfg
			}
			tok, err := verify(t, tc.token, c)
			wantCode(t, tok, err, tc.want)
			// The report path refuses the same way and ends on a failed check.
			tok, checks, err := oidc.VerifyWithReport(context.Background(), tc.token, c)
			wantCode(t, tok, err, tc.want)
			if len(checks) == 0 || checks[len(checks)-1].Passed {
				t.Errorf("report does not end with a failed check: %+v", checks)
			}
			if strings.Contains(err.Error(), tc.token) && len(tc.token) > 20 {
				t.Errorf("error echoes the token")
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the attacker's server was fetched %d times", n)
	}
}

func withLifetime(c *oidc.Config, d time.Duration) *oidc.Config {
	c.MaxTokenLifetime = d
	return c
}

// flip changes one base64url character in the middle of s.
func flip(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// noncanonical changes the unused low bits of the last base64url character
// (RSA-2048 signatures are 256 bytes: 342 characters, 4 spare bits), so the
// bytes decode the same under a lax decoder.
func noncanonical(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last|1])
}

// oversized signs a valid token whose compact form is exactly size bytes.
func oversized(t *testing.T, k *idp.JWTKey, size int) string {
	t.Helper()
	pad := size
	for range 20 {
		o := opts(k)
		o.Claims = map[string]any{"pad": strings.Repeat("x", max(pad, 0))}
		tok := sign(t, o)
		if len(tok) == size {
			return tok
		}
		// base64 makes 4 characters of 3 bytes; step in payload bytes.
		pad += (size - len(tok)) * 3 / 4
		if d := size - len(tok); d > 0 && d < 4 {
			pad++
		} else if d < 0 && d > -4 {
			pad--
		}
	}
	t.Fatalf("could not build a token of exactly %d bytes", size)
	return ""
}

func TestVerifySizeBoundary(t *testing.T) {
	k := keys(t)
	at := oversized(t, k.rsa, oidc.MaxTokenBytes)
	if _, err := verify(t, at, config(t)); err != nil {
		t.Fatalf("a token of exactly %d bytes: %v", oidc.MaxTokenBytes, err)
	}
	tok, err := verify(t, oversized(t, k.rsa, oidc.MaxTokenBytes+1), config(t))
	wantCode(t, tok, err, oidc.CodeInvalidToken)
}

// TestVerifyTimeBoundaries pins the comparisons with skew 0 (SAML-THREATS.md:
// boundary tests run with skew 0): now == exp refuses, now == nbf accepts,
// now == iat accepts, and an iat exactly 24 h old accepts.
func TestVerifyTimeBoundaries(t *testing.T) {
	k := keys(t)
	cfg := config(t)
	cfg.Skew = 0
	cfg.MaxTokenLifetime = 48 * time.Hour
	at := func(o idp.JWTOptions, when time.Time) error {
		c := *cfg
		c.Now = func() time.Time { return when }
		_, err := oidc.Verify(context.Background(), sign(t, o), &c)
		return err
	}
	o := opts(k.rsa)
	exp := o.IssuedAt.Add(o.Lifetime)
	if err := at(o, exp.Add(-time.Second)); err != nil {
		t.Errorf("one second before exp: %v", err)
	}
	var oe *oidc.Error
	if err := at(o, exp); !errors.As(err, &oe) || oe.Code != oidc.CodeExpired {
		t.Errorf("at exp: %v, want assertion_expired", err)
	}
	o.NotBefore = now
	if err := at(o, now); err != nil {
		t.Errorf("at nbf: %v", err)
	}
	if err := at(o, now.Add(-time.Second)); !errors.As(err, &oe) || oe.Code != oidc.CodeNotYetValid {
		t.Errorf("before nbf: %v", err)
	}
	o = opts(k.rsa)
	o.IssuedAt = now
	if err := at(o, now); err != nil {
		t.Errorf("at iat: %v", err)
	}
	o.Lifetime = 30 * time.Hour
	if err := at(o, now.Add(oidc.MaxIssuedAtAge)); err != nil {
		t.Errorf("iat exactly 24 h old: %v", err)
	}
	if err := at(o, now.Add(oidc.MaxIssuedAtAge+time.Second)); !errors.As(err, &oe) || oe.Code != oidc.CodeExpired {
		t.Errorf("iat 24 h + 1 s old: %v", err)
	}
}

func TestVerifyConfigErrors(t *testing.T) {
	k := keys(t)
	tok := sign(t, opts(k.rsa))
	good := config(t)
	tests := []struct {
		name string
		cfg  *oidc.Config
		want error
	}{
		{"nil", nil, oidc.ErrInvalidConfig},
		{"no issuer", &oidc.Config{Audience: audience, Keys: good.Keys}, oidc.ErrInvalidConfig},
		{"no audience", &oidc.Config{Issuer: issuer, Keys: good.Keys}, oidc.ErrInvalidConfig},
		{"no keys", &oidc.Config{Issuer: issuer, Audience: audience}, oidc.ErrInvalidConfig},
		{"skew too large", &oidc.Config{Issuer: issuer, Audience: audience, Keys: good.Keys, Skew: oidc.MaxSkew + 1}, oidc.ErrInvalidConfig},
		{"negative skew", &oidc.Config{Issuer: issuer, Audience: audience, Keys: good.Keys, Skew: -1}, oidc.ErrInvalidConfig},
		{"lifetime too large", &oidc.Config{Issuer: issuer, Audience: audience, Keys: good.Keys, MaxTokenLifetime: oidc.MaxMaxTokenLifetime + 1}, oidc.ErrInvalidConfig},
		{"empty key source", &oidc.Config{Issuer: issuer, Audience: audience, Keys: oidc.StaticKeys{}, Now: good.Now}, oidc.ErrKeysUnavailable},
		{"failing key source", &oidc.Config{Issuer: issuer, Audience: audience, Keys: failingKeys{}, Now: good.Now}, oidc.ErrKeysUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := oidc.Verify(context.Background(), tok, tc.cfg)
			if got != nil || !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, %v; want %v", got, err, tc.want)
			}
			var oe *oidc.Error
			if errors.As(err, &oe) {
				t.Errorf("a config fault must not look like a refusal of the token: %v", err)
			}
		})
	}
}

type failingKeys struct{}

func (failingKeys) KeySet(context.Context, bool) (*oidc.KeySet, error) {
	return nil, errors.New("issuer down")
}

func TestVerifyWithReport(t *testing.T) {
	k := keys(t)
	tok, checks, err := oidc.VerifyWithReport(context.Background(), sign(t, opts(k.rsa)), config(t))
	if err != nil || tok == nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range checks {
		if !c.Passed {
			t.Errorf("failed check in a passing report: %+v", c)
		}
		names = append(names, c.Name)
	}
	want := "size format header key signature claims issuer audience time"
	if strings.Join(names, " ") != want {
		t.Errorf("checks %q, want %q", strings.Join(names, " "), want)
	}
}

func TestCheckIssuerURL(t *testing.T) {
	for _, ok := range []string{"https://idp.example.com", "https://idp.example.com/", "https://login.example.com/tenant/v2.0", "https://127.0.0.1:8443"} {
		if err := oidc.CheckIssuerURL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "http://idp.example.com", "https://", "https:opaque", "https://u:p@idp.example.com",
		"https://idp.example.com/?x=1", "https://idp.example.com/#f", "https://idp.example.com/?", "ftp://x", "idp.example.com",
		"https://idp.example.com/a b", "https://" + strings.Repeat("a", oidc.MaxIssuerBytes)} {
		if err := oidc.CheckIssuerURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
