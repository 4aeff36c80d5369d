package oidc

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"
)

// Limits and defaults of token verification (API.md "OIDC configs").
const (
	// MaxTokenBytes caps the compact token, checked before anything else.
	MaxTokenBytes = 16 << 10
	// MaxSkew is the largest clock skew a Config may allow (--clock-skew).
	MaxSkew = 180 * time.Second
	// MaxIssuedAtAge is how old iat may be: a token issued more than a day
	// ago is refused even when its exp is later.
	MaxIssuedAtAge = 24 * time.Hour
	// DefaultMaxTokenLifetime is maxTokenLifetimeSeconds when a config sets
	// none: exp − iat may be at most a day.
	DefaultMaxTokenLifetime = 24 * time.Hour
	// MaxMaxTokenLifetime is the largest maxTokenLifetimeSeconds a config
	// may set (366 days: Kubernetes' extended service-account tokens live a
	// year; iat's 24 h bound still applies to them).
	MaxMaxTokenLifetime = 366 * 24 * time.Hour
	// MaxIssuerBytes and MaxAudienceBytes bound a config's issuerUrl and
	// audience.
	MaxIssuerBytes   = 2048
	MaxAudienceBytes = 2048
	// maxNumericDate is 9999-12-31T23:59:59Z; a NumericDate beyond it (or
	// negative) is malformed.
	maxNumericDate      = 253402300799
	maxReasonValueBytes = 64
)

// Config is everything one OIDC federation config contributes to
// verification. It is read, never modified, by Verify.
type Config struct {
	// Issuer is the config's issuerUrl; a token's iss must equal it
	// exactly (no trailing-slash or case folding).
	Issuer string
	// Audience must be exactly one of the token's aud values.
	Audience string
	// Keys supplies the trusted keys (StaticKeys for an uploaded JWK Set,
	// discovery otherwise). Required.
	Keys KeySource
	// Skew is the clock tolerance for exp, nbf and iat, 0..MaxSkew.
	Skew time.Duration
	// MaxTokenLifetime bounds exp − iat; 0 means DefaultMaxTokenLifetime.
	MaxTokenLifetime time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Token holds only values read from a payload whose signature verified
// with one of the config's keys. Claims is the whole claims set as JSON
// values (string, float64, bool, nil, []any, map[string]any); it is shared,
// so callers must treat it as read-only.
type Token struct {
	Issuer, Subject string
	Audience        []string
	// AuthorizedParty is azp ("" when absent). It is not compared with the
	// config's audience (see the package doc); a condition may.
	AuthorizedParty             string
	Expiry, IssuedAt, NotBefore time.Time // NotBefore zero when absent
	KeyID, Algorithm            string    // of the header, for audit
	Claims                      map[string]any
}

// Code is a stable machine code; the values are exactly API.md's.
type Code string

// The error codes of API.md that a refused OIDC token maps to.
const (
	CodeInvalidToken     Code = "invalid_oidc_token"      // 400: malformed or outside the token profile
	CodeInvalidSignature Code = "invalid_signature"       // 401: algorithm refused or signature wrong
	CodeUntrustedKey     Code = "untrusted_key"           // 401: no trusted key is named or fits
	CodeExpired          Code = "assertion_expired"       // 401: exp passed, or iat too old
	CodeNotYetValid      Code = "assertion_not_yet_valid" // 401: nbf or iat in the future
	CodeAudience         Code = "audience_mismatch"       // 401
	CodeIssuer           Code = "issuer_mismatch"         // 401
)

// Error is a refusal of the token. Reason is safe to show the caller: it
// never echoes the token, only short quoted fragments (at most 64 bytes).
type Error struct {
	Code   Code
	Reason string
	Err    error
}

// Error renders "code: reason".
func (e *Error) Error() string {
	if e.Err != nil && e.Reason == "" {
		return string(e.Code) + ": " + e.Err.Error()
	}
	return string(e.Code) + ": " + e.Reason
}

// Unwrap exposes the underlying cause to errors.Is / errors.As.
func (e *Error) Unwrap() error { return e.Err }

func refuse(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// ErrInvalidConfig is wrapped by the (non-*Error) error Verify returns when
// the Config itself is unusable: a server-side fault, never a Token.
var ErrInvalidConfig = errors.New("oidc: invalid federation config")

// ErrKeysUnavailable is wrapped by the (non-*Error) error Verify returns
// when the KeySource has no keys at all (discovery never succeeded): the
// exchange fails closed and the caller answers 5xx/503.
var ErrKeysUnavailable = errors.New("oidc: issuer keys unavailable")

// quote renders a fragment for an error Reason: cut at 64 bytes on a rune
// boundary and %q-escaped.
func quote(s string) string {
	if len(s) > maxReasonValueBytes {
		cut := maxReasonValueBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// Check is one step of verification, for the config ":test" endpoint.
type Check struct {
	Name   string
	Passed bool
	Detail string
}

type report struct{ checks []Check }

func (r *report) pass(name, format string, args ...any) {
	if r != nil {
		r.checks = append(r.checks, Check{Name: name, Passed: true, Detail: fmt.Sprintf(format, args...)})
	}
}

func (r *report) fail(name string, err error) {
	if r != nil {
		r.checks = append(r.checks, Check{Name: name, Passed: false, Detail: err.Error()})
	}
}

// Verify checks a compact-serialised JWS ID token against cfg and returns
// the verified Token. Every refusal of the token is an *Error; a broken
// Config or unavailable keys give an error wrapping ErrInvalidConfig /
// ErrKeysUnavailable. It never returns a Token together with an error.
// Tokens are not single-use (API.md): nothing is recorded.
func Verify(ctx context.Context, token string, cfg *Config) (*Token, error) {
	return run(ctx, token, cfg, nil)
}

// VerifyWithReport runs exactly the checks Verify runs, in the same order,
// and also returns them with their outcome (stopping at the first
// failure), for the config ":test" endpoint.
func VerifyWithReport(ctx context.Context, token string, cfg *Config) (*Token, []Check, error) {
	rep := &report{}
	t, err := run(ctx, token, cfg, rep)
	return t, rep.checks, err
}

// recoveredPanics counts panics turned into refusals; tests fail when it is
// not zero, so the safety net never hides a bug.
var recoveredPanics atomic.Int64

func run(ctx context.Context, token string, cfg *Config, rep *report) (t *Token, err error) {
	defer func() {
		if p := recover(); p != nil {
			recoveredPanics.Add(1)
			t, err = nil, refuse(CodeInvalidToken, "internal verification failure")
			rep.fail("verification", err)
		}
	}()
	if err := CheckConfig(cfg); err != nil {
		rep.fail("config", err)
		return nil, err
	}
	v := verifier{cfg: cfg, now: cfg.now(), rep: rep}
	t, err = v.verify(ctx, token)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Config) maxLifetime() time.Duration {
	if c.MaxTokenLifetime == 0 {
		return DefaultMaxTokenLifetime
	}
	return c.MaxTokenLifetime
}

// CheckConfig reports whether cfg can verify anything; the error wraps
// ErrInvalidConfig.
func CheckConfig(cfg *Config) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case cfg == nil:
		return bad("nil config")
	case cfg.Issuer == "":
		return bad("empty issuer")
	case cfg.Audience == "":
		return bad("empty audience")
	case cfg.Keys == nil:
		return bad("no key source")
	case cfg.Skew < 0 || cfg.Skew > MaxSkew:
		return bad("clock skew %s outside 0..%s", cfg.Skew, MaxSkew)
	case cfg.MaxTokenLifetime < 0 || cfg.MaxTokenLifetime > MaxMaxTokenLifetime:
		return bad("max token lifetime %s outside 0..%s", cfg.MaxTokenLifetime, MaxMaxTokenLifetime)
	}
	return nil
}

// CheckIssuerURL applies API.md's rule for a config's issuerUrl: an
// absolute https URL with a host, no user info, query or fragment, at most
// MaxIssuerBytes. It is the write-time check; it does not fetch anything.
// (Discovery may additionally be allowed plain http on a loopback address
// in tests; that switch lives in the discovery package and no API field
// reaches it.)
func CheckIssuerURL(s string) error {
	if s == "" {
		return errors.New("issuerUrl is required")
	}
	if len(s) > MaxIssuerBytes {
		return fmt.Errorf("issuerUrl is %d bytes, at most %d allowed", len(s), MaxIssuerBytes)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("issuerUrl is not a URL: %v", err)
	}
	switch {
	case u.Scheme != "https":
		return fmt.Errorf("issuerUrl %s must use https", quote(s))
	case u.Host == "" || u.Opaque != "":
		return fmt.Errorf("issuerUrl %s has no host", quote(s))
	case u.User != nil:
		return fmt.Errorf("issuerUrl %s must not carry user info", quote(s))
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(s, "?#"):
		return fmt.Errorf("issuerUrl %s must not have a query or fragment (OpenID Connect Discovery §2)", quote(s))
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f {
			return fmt.Errorf("issuerUrl %s contains whitespace or control characters", quote(s))
		}
	}
	return nil
}

type verifier struct {
	cfg *Config
	now time.Time
	rep *report
}

// jweHeaderMembers only make sense in a JWE (RFC 7516 §4.1): a JWS header
// carrying them is a confused or crafted token.
var jweHeaderMembers = []string{"enc", "zip", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c"}

// keyLocatingHeaderMembers name or carry a key (RFC 7515 §4.1.2–4.1.6):
// trusting them would let the token choose its own verifier. s3fed never
// follows them and refuses tokens that carry them, so no such header can
// ever be mistaken for a source of trust.
var keyLocatingHeaderMembers = []string{"jku", "jwk", "x5u", "x5c"}

func (v *verifier) verify(ctx context.Context, token string) (*Token, error) {
	rep := v.rep
	fail := func(name string, e error) (*Token, error) {
		rep.fail(name, e)
		return nil, e
	}

	// 1. Shape: size, compact serialisation, strict base64url.
	if len(token) > MaxTokenBytes {
		return fail("size", refuse(CodeInvalidToken, "token is %d bytes, at most %d allowed", len(token), MaxTokenBytes))
	}
	if token == "" {
		return fail("size", refuse(CodeInvalidToken, "empty token"))
	}
	rep.pass("size", "%d bytes", len(token))
	parts := strings.Split(token, ".")
	switch {
	case len(parts) == 5:
		return fail("format", refuse(CodeInvalidToken, "the token is a JWE (5 parts): encrypted tokens are not accepted, send the signed ID token"))
	case len(parts) != 3:
		return fail("format", refuse(CodeInvalidToken, "the token has %d dot-separated parts; a JWS in compact serialisation has 3", len(parts)))
	}
	raw := make([][]byte, 3)
	for i, p := range parts {
		b, err := strictB64(p)
		if err != nil {
			return fail("format", refuse(CodeInvalidToken, "%s is not base64url without padding: %v", []string{"header", "payload", "signature"}[i], err))
		}
		raw[i] = b
	}
	rep.pass("format", "JWS compact serialisation")

	// 2. Header: strict JSON, allow-listed algorithm, no key-locating or
	// critical members, not a JWE, not nested.
	hdr, err := decodeStrictObject(raw[0])
	if err != nil {
		return fail("header", refuse(CodeInvalidToken, "header: %v", err))
	}
	alg, ok := hdr["alg"].(string)
	if !ok {
		return fail("header", refuse(CodeInvalidToken, `header: "alg" is missing or not a string`))
	}
	for _, m := range jweHeaderMembers {
		if _, ok := hdr[m]; ok {
			return fail("header", refuse(CodeInvalidToken, "header: %q is a JWE member; encrypted tokens are not accepted", m))
		}
	}
	for _, m := range keyLocatingHeaderMembers {
		if _, ok := hdr[m]; ok {
			return fail("header", refuse(CodeInvalidToken, "header: %q is not accepted: keys come only from the federation config", m))
		}
	}
	if _, ok := hdr["crit"]; ok {
		return fail("header", refuse(CodeInvalidToken, `header: "crit" is not accepted (no critical extensions are supported)`))
	}
	if _, ok := hdr["b64"]; ok {
		return fail("header", refuse(CodeInvalidToken, `header: "b64" is not accepted`))
	}
	if cty, ok := hdr["cty"]; ok {
		return fail("header", refuse(CodeInvalidToken, "header: cty %v is not accepted: nested tokens are refused", cty))
	}
	kid := ""
	if k, ok := hdr["kid"]; ok {
		s, isStr := k.(string)
		if !isStr || s == "" || len(s) > MaxKeyIDBytes {
			return fail("header", refuse(CodeInvalidToken, `header: "kid" must be a non-empty string of at most %d bytes`, MaxKeyIDBytes))
		}
		kid = s
	}
	if !algAllowed(alg) {
		return fail("algorithm", refuse(CodeInvalidSignature, "alg %s is not accepted; allowed: %s", quote(alg), strings.Join(Algorithms, ", ")))
	}
	if len(raw[2]) == 0 {
		return fail("algorithm", refuse(CodeInvalidSignature, "the token has no signature (unsigned tokens are not accepted)"))
	}
	rep.pass("header", "alg %s, kid %s", alg, quote(kid))

	// 3. Keys: kid chooses among the config's keys; an unknown kid asks
	// the source once for fresh keys (rate-limited by the source).
	candidates, err := v.candidates(ctx, kid, alg)
	if err != nil {
		return fail("key", err)
	}

	// 4. Signature, by go-jose, on exactly this compact string, with an
	// allow-list of one algorithm (the header's, already allow-listed).
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		return fail("signature", refuse(CodeInvalidToken, "not a valid JWS: %v", err))
	}
	var payload []byte
	var used Key
	for _, k := range candidates {
		if p, err := jws.Verify(k.Public); err == nil {
			payload, used = p, k
			break
		}
	}
	if payload == nil {
		if kid != "" {
			return fail("signature", refuse(CodeInvalidSignature, "the signature does not verify with the config's key %s", quote(kid)))
		}
		return fail("signature", refuse(CodeInvalidSignature, "the signature does not verify with any of the config's %d %s keys", len(candidates), alg))
	}
	rep.pass("signature", "%s with %s key %s", alg, used.kind(), quote(used.ID))

	// 5. Claims, read only from the verified payload.
	claims, err := decodeStrictObject(payload)
	if err != nil {
		return fail("claims", refuse(CodeInvalidToken, "payload: %v (a nested or non-JSON payload is not an ID token)", err))
	}
	t := &Token{KeyID: kid, Algorithm: alg, Claims: claims}
	if err := v.readClaims(t, claims); err != nil {
		return fail("claims", err)
	}
	rep.pass("claims", "sub %s", quote(t.Subject))

	if t.Issuer != v.cfg.Issuer {
		return fail("issuer", refuse(CodeIssuer, "iss %s is not the config's issuerUrl %s (compared exactly)", quote(t.Issuer), quote(v.cfg.Issuer)))
	}
	rep.pass("issuer", "%s", quote(t.Issuer))
	found := false
	for _, a := range t.Audience {
		if a == v.cfg.Audience {
			found = true
			break
		}
	}
	if !found {
		return fail("audience", refuse(CodeAudience, "aud (%d values) does not contain the config's audience %s", len(t.Audience), quote(v.cfg.Audience)))
	}
	rep.pass("audience", "%s", quote(v.cfg.Audience))

	if err := v.checkTimes(t); err != nil {
		return fail("time", err)
	}
	rep.pass("time", "iat %s, exp %s, skew %s", t.IssuedAt.UTC().Format(time.RFC3339), t.Expiry.UTC().Format(time.RFC3339), v.cfg.Skew)
	return t, nil
}

// candidates returns the trusted keys that may have signed a token with
// this kid and alg. With a kid, exactly the keys carrying it (after one
// refresh of the source when none does); without one, every key that fits
// alg (see the package doc for why).
func (v *verifier) candidates(ctx context.Context, kid, alg string) ([]Key, error) {
	set, err := v.cfg.Keys.KeySet(ctx, false)
	if err != nil || set.Len() == 0 {
		return nil, fmt.Errorf("%w: %v", ErrKeysUnavailable, errOrEmpty(err))
	}
	if kid != "" && !set.HasKeyID(kid) {
		fresh, err := v.cfg.Keys.KeySet(ctx, true)
		if err == nil && fresh.Len() > 0 {
			set = fresh
		}
	}
	var out []Key
	named := 0
	for _, k := range set.keys {
		if kid != "" && k.ID != kid {
			continue
		}
		named++
		if k.fits(alg) {
			out = append(out, k)
		}
	}
	switch {
	case kid != "" && named == 0:
		return nil, refuse(CodeUntrustedKey, "kid %s is not one of the config's %d keys", quote(kid), set.Len())
	case kid != "" && len(out) == 0:
		return nil, refuse(CodeInvalidSignature, "the config's key %s cannot verify alg %s", quote(kid), alg)
	case len(out) == 0:
		return nil, refuse(CodeUntrustedKey, "the token names no kid and none of the config's %d keys fits alg %s", set.Len(), alg)
	}
	v.rep.pass("key", "%d candidate key(s)", len(out))
	return out, nil
}

func errOrEmpty(err error) error {
	if err != nil {
		return err
	}
	return errors.New("empty key set")
}

func (v *verifier) readClaims(t *Token, c map[string]any) error {
	bad := func(format string, args ...any) error { return refuse(CodeInvalidToken, format, args...) }
	var ok bool
	if t.Issuer, ok = c["iss"].(string); !ok || t.Issuer == "" {
		return bad(`claim "iss" is missing or not a non-empty string`)
	}
	switch sub := c["sub"].(type) {
	case string:
		if sub == "" {
			return bad(`claim "sub" is empty`)
		}
		t.Subject = sub
	case nil:
		return bad(`claim "sub" is missing`)
	default:
		return bad(`claim "sub" must be a string, it is a %s`, jsonKind(sub))
	}
	switch aud := c["aud"].(type) {
	case string:
		t.Audience = []string{aud}
	case []any:
		if len(aud) == 0 {
			return bad(`claim "aud" is an empty array`)
		}
		for _, a := range aud {
			s, ok := a.(string)
			if !ok {
				return bad(`claim "aud" has a %s member; every member must be a string`, jsonKind(a))
			}
			t.Audience = append(t.Audience, s)
		}
	default:
		return bad(`claim "aud" is missing or neither a string nor an array of strings`)
	}
	if azp, present := c["azp"]; present {
		if t.AuthorizedParty, ok = azp.(string); !ok {
			return bad(`claim "azp" must be a string`)
		}
	}
	var err error
	if t.Expiry, err = numericDate(c, "exp", true); err != nil {
		return err
	}
	if t.IssuedAt, err = numericDate(c, "iat", true); err != nil {
		return err
	}
	if t.NotBefore, err = numericDate(c, "nbf", false); err != nil {
		return err
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// numericDate reads a NumericDate claim (RFC 7519 §2): a JSON number of
// seconds since the epoch, fractions allowed, 0 ≤ n ≤ year 9999.
func numericDate(c map[string]any, name string, required bool) (time.Time, error) {
	v, present := c[name]
	if !present {
		if required {
			return time.Time{}, refuse(CodeInvalidToken, "claim %q is required", name)
		}
		return time.Time{}, nil
	}
	f, ok := v.(float64)
	if !ok {
		return time.Time{}, refuse(CodeInvalidToken, "claim %q must be a number of seconds (NumericDate), it is a %s", name, jsonKind(v))
	}
	if f < 0 || f > maxNumericDate {
		return time.Time{}, refuse(CodeInvalidToken, "claim %q is out of range", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

func (v *verifier) checkTimes(t *Token) error {
	skew, now := v.cfg.Skew, v.now
	if !t.Expiry.After(t.IssuedAt) {
		return refuse(CodeInvalidToken, "exp %s is not after iat %s", t.Expiry.Format(time.RFC3339), t.IssuedAt.Format(time.RFC3339))
	}
	if life, max := t.Expiry.Sub(t.IssuedAt), v.cfg.maxLifetime(); life > max {
		return refuse(CodeInvalidToken, "token lifetime (exp − iat) is %s, longer than the config's maxTokenLifetimeSeconds %d", life, int64(max/time.Second))
	}
	if !now.Before(t.Expiry.Add(skew)) {
		return refuse(CodeExpired, "the token expired at %s (now %s, skew %s)", t.Expiry.Format(time.RFC3339), now.UTC().Format(time.RFC3339), skew)
	}
	if !t.NotBefore.IsZero() && now.Before(t.NotBefore.Add(-skew)) {
		return refuse(CodeNotYetValid, "the token is not valid before %s (now %s, skew %s)", t.NotBefore.Format(time.RFC3339), now.UTC().Format(time.RFC3339), skew)
	}
	if now.Before(t.IssuedAt.Add(-skew)) {
		return refuse(CodeNotYetValid, "iat %s is in the future (now %s, skew %s)", t.IssuedAt.Format(time.RFC3339), now.UTC().Format(time.RFC3339), skew)
	}
	if now.Sub(t.IssuedAt) > MaxIssuedAtAge+skew {
		return refuse(CodeExpired, "the token was issued at %s, more than %s ago", t.IssuedAt.Format(time.RFC3339), MaxIssuedAtAge)
	}
	return nil
}

// strictB64 decodes unpadded base64url (RFC 7515 §2) and refuses padding,
// whitespace, the standard alphabet and non-canonical trailing bits, so one
// token has exactly one spelling.
func strictB64(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return nil, fmt.Errorf("byte %q at offset %d", c, i)
		}
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}
