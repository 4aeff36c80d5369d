package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Limits on a JWK Set, uploaded or discovered. Real sets hold 1–10 keys
// (Google 2–3, Entra ID about 10 with certificate chains, Kubernetes 1–2).
const (
	// MaxJWKSBytes caps a JWK Set document.
	MaxJWKSBytes = 64 << 10
	// MaxJWKSKeys caps the number of entries in a JWK Set, usable or not.
	MaxJWKSKeys = 32
	// MaxKeyIDBytes caps a kid, in a JWK and in a token header.
	MaxKeyIDBytes = 256
	// MinRSABits and MaxRSABits bound an RSA verification key, as for SAML
	// signing certificates.
	MinRSABits = 2048
	MaxRSABits = 8192
)

// Algorithms is the allow-list of JWS algorithms (API.md): RSASSA-PKCS1-v1_5
// and RSASSA-PSS with SHA-256/384/512, ECDSA P-256/SHA-256 and
// P-384/SHA-384. "none", every HS* (a shared secret can never be a trusted
// public key), EdDSA and ES512 are refused.
var Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"}

func algAllowed(alg string) bool { return slices.Contains(Algorithms, alg) }

// Key is one trusted verification key of a federation config.
type Key struct {
	// ID is the JWK's kid ("" when the JWK has none).
	ID string
	// Algorithm is the JWK's alg; when set, only tokens with exactly this
	// alg are verified with the key.
	Algorithm string
	// Public is *rsa.PublicKey or *ecdsa.PublicKey (P-256 or P-384).
	Public any
}

// fits reports whether a token signed with alg could have been made with k:
// RS*/PS* need an RSA key, ES256 a P-256 key, ES384 a P-384 key, and a key
// that names its alg accepts only that alg. This is what stops algorithm
// confusion before go-jose is called.
func (k Key) fits(alg string) bool {
	if k.Algorithm != "" && k.Algorithm != alg {
		return false
	}
	switch pub := k.Public.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return (alg == "ES256" && pub.Curve == elliptic.P256()) || (alg == "ES384" && pub.Curve == elliptic.P384())
	}
	return false
}

func (k Key) kind() string {
	switch pub := k.Public.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", pub.N.BitLen())
	case *ecdsa.PublicKey:
		return "EC " + pub.Curve.Params().Name
	}
	return "unknown"
}

// KeySet is an immutable set of trusted verification keys. The zero value
// is an empty set.
type KeySet struct {
	keys    []Key
	skipped []string
}

// Keys returns a copy of the usable keys, in document order.
func (s *KeySet) Keys() []Key {
	if s == nil {
		return nil
	}
	return slices.Clone(s.keys)
}

// Skipped says, one line per JWK, which entries of the document were left
// out and why (encryption keys, unsupported key types), so an admin can see
// what an uploaded or discovered set contributed.
func (s *KeySet) Skipped() []string {
	if s == nil {
		return nil
	}
	return slices.Clone(s.skipped)
}

// Len is the number of usable keys.
func (s *KeySet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// HasKeyID reports whether some usable key carries kid.
func (s *KeySet) HasKeyID(kid string) bool {
	if s == nil {
		return false
	}
	for _, k := range s.keys {
		if k.ID == kid {
			return true
		}
	}
	return false
}

// JWKSError says why a JWK Set is unacceptable; the admin API answers it as
// invalid_argument on the "jwks" field, discovery keeps its last good keys.
type JWKSError struct{ Reason string }

func (e *JWKSError) Error() string { return "jwks: " + e.Reason }

func jwksErr(format string, args ...any) error {
	return &JWKSError{Reason: fmt.Sprintf(format, args...)}
}

// privateMembers are the JWK members that carry private or symmetric key
// material (RFC 7518 §6.2.2, §6.3.2, §6.4.1). A set holding one is refused
// whole: it means the admin (or the IdP) published a secret.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

// ParseJWKS reads a JWK Set (RFC 7517 §5) into the keys s3fed will trust.
// The same rules apply to an uploaded "jwks" and to a discovered jwks_uri
// document:
//
//   - the document is strict JSON (no duplicate members, valid UTF-8, no
//     trailing data), at most MaxJWKSBytes and MaxJWKSKeys entries;
//   - a set with private or symmetric key material, a malformed key, or an
//     RSA key outside MinRSABits..MaxRSABits is refused whole;
//   - keys s3fed cannot use for verification are skipped and listed in
//     Skipped: "use" other than "sig", "key_ops" without "verify", key types
//     other than RSA and EC P-256/P-384 (EdDSA, P-521), an "alg" outside
//     Algorithms;
//   - at least one usable key must remain.
//
// Several keys may share a kid; a token naming it is tried against each.
func ParseJWKS(data []byte) (*KeySet, error) {
	if len(data) > MaxJWKSBytes {
		return nil, jwksErr("document is %d bytes, at most %d allowed", len(data), MaxJWKSBytes)
	}
	doc, err := decodeStrictObject(data)
	if err != nil {
		return nil, jwksErr("%v", err)
	}
	rawKeys, ok := doc["keys"].([]any)
	if !ok {
		return nil, jwksErr(`a JWK Set needs a "keys" array`)
	}
	if len(rawKeys) > MaxJWKSKeys {
		return nil, jwksErr("%d keys, at most %d allowed", len(rawKeys), MaxJWKSKeys)
	}
	set := &KeySet{}
	for i, rk := range rawKeys {
		m, ok := rk.(map[string]any)
		if !ok {
			return nil, jwksErr("keys[%d] is not a JSON object", i)
		}
		k, skip, err := parseJWK(m)
		if err != nil {
			return nil, jwksErr("keys[%d]: %v", i, err)
		}
		if skip != "" {
			set.skipped = append(set.skipped, fmt.Sprintf("keys[%d] (kid %s): %s", i, quote(k.ID), skip))
			continue
		}
		set.keys = append(set.keys, k)
	}
	if len(set.keys) == 0 {
		if len(set.skipped) > 0 {
			return nil, jwksErr("no usable signing key (%s)", strings.Join(set.skipped, "; "))
		}
		return nil, jwksErr("no keys")
	}
	return set, nil
}

// parseJWK returns the key, or a reason to skip it, or an error that
// refuses the whole set.
func parseJWK(m map[string]any) (k Key, skip string, err error) {
	str := func(name string) (string, error) {
		v, ok := m[name]
		if !ok {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("%q is not a string", name)
		}
		return s, nil
	}
	for _, name := range privateMembers {
		if _, ok := m[name]; ok {
			return Key{}, "", fmt.Errorf("holds private or symmetric key material (%q): publish only public keys", name)
		}
	}
	kty, err := str("kty")
	if err != nil {
		return Key{}, "", err
	}
	if kty == "" {
		return Key{}, "", errors.New(`"kty" is missing`)
	}
	if k.ID, err = str("kid"); err != nil {
		return Key{}, "", err
	}
	if len(k.ID) > MaxKeyIDBytes {
		return Key{}, "", fmt.Errorf("kid is %d bytes, at most %d allowed", len(k.ID), MaxKeyIDBytes)
	}
	if k.Algorithm, err = str("alg"); err != nil {
		return Key{}, "", err
	}
	use, err := str("use")
	if err != nil {
		return Key{}, "", err
	}
	if use != "" && use != "sig" {
		return k, fmt.Sprintf("use %s is not \"sig\"", quote(use)), nil
	}
	if ops, ok := m["key_ops"]; ok {
		list, ok := ops.([]any)
		if !ok {
			return Key{}, "", errors.New(`"key_ops" is not an array`)
		}
		verify := false
		for _, op := range list {
			if s, ok := op.(string); ok && s == "verify" {
				verify = true
			}
		}
		if !verify {
			return k, `key_ops does not include "verify"`, nil
		}
	}
	if k.Algorithm != "" && !algAllowed(k.Algorithm) {
		return k, fmt.Sprintf("alg %s is not one of %s", quote(k.Algorithm), strings.Join(Algorithms, ", ")), nil
	}
	switch kty {
	case "RSA", "EC":
	default:
		return k, fmt.Sprintf("key type %s is not supported (RSA, EC P-256, EC P-384)", quote(kty)), nil
	}
	if kty == "EC" {
		crv, err := str("crv")
		if err != nil {
			return Key{}, "", err
		}
		if crv != "P-256" && crv != "P-384" {
			return k, fmt.Sprintf("curve %s is not supported (P-256, P-384)", quote(crv)), nil
		}
	}
	// go-jose reads the key material (and checks an x5c chain against it);
	// the members it sees are the ones checked above, from the same strict
	// parse, so no duplicate can make it read a different key.
	raw, err := json.Marshal(m)
	if err != nil {
		return Key{}, "", err
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return Key{}, "", fmt.Errorf("malformed %s key: %v", kty, err)
	}
	switch pub := jwk.Key.(type) {
	case *rsa.PublicKey:
		if n := pub.N.BitLen(); n < MinRSABits || n > MaxRSABits {
			return Key{}, "", fmt.Errorf("RSA key of %d bits, want %d to %d", n, MinRSABits, MaxRSABits)
		}
		if pub.E < 3 || pub.E%2 == 0 {
			return Key{}, "", fmt.Errorf("RSA public exponent %d is not an odd number ≥ 3", pub.E)
		}
		k.Public = pub
	case *ecdsa.PublicKey:
		k.Public = pub
	default:
		return Key{}, "", fmt.Errorf("unexpected key material %T", jwk.Key)
	}
	if k.Algorithm != "" && !k.fits(k.Algorithm) {
		return Key{}, "", fmt.Errorf("alg %s does not fit a %s key", quote(k.Algorithm), k.kind())
	}
	return k, "", nil
}

// KeySource supplies a config's trusted keys. Verification asks for them
// once per token; it sets refresh only when the token names a kid that the
// last answer did not hold, which is how an issuer's key rotation becomes
// visible (OpenID Connect Core §10.1.1).
//
// An uploaded JWK Set is a StaticKeys (nothing is fetched, refresh is
// ignored); discovery (package oidc/discovery) fetches over HTTPS, caches,
// and rate-limits refreshes. An error means no keys at all are available
// (never fetched successfully): verification then fails with an error
// wrapping ErrKeysUnavailable, a server-side condition, not the token's
// fault.
type KeySource interface {
	KeySet(ctx context.Context, refresh bool) (*KeySet, error)
}

// StaticKeys is the KeySource of an uploaded JWK Set.
type StaticKeys struct{ Set *KeySet }

// KeySet returns the uploaded set; refresh is meaningless for it.
func (s StaticKeys) KeySet(context.Context, bool) (*KeySet, error) {
	if s.Set == nil || s.Set.Len() == 0 {
		return nil, errors.New("no uploaded keys")
	}
	return s.Set, nil
}
