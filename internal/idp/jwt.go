package idp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// JWT signing for the test IdP: a key pair that an OIDC federation config
// trusts through its "jwks" (or through discovery from IssuerHandler), and
// tokens shaped like the ID tokens, Kubernetes service-account tokens and CI
// tokens real issuers send. The signatures are made with the standard
// library's crypto directly, not with the JOSE library the server verifies
// with, so the two sides are independent implementations of RFC 7515.

// JWTKeyKind names a JWT signing key Keygen can make for `idp keygen --kind
// jwt`.
type JWTKeyKind string

// The JWT key kinds; each has one default algorithm.
const (
	JWTKeyRS256 JWTKeyKind = "rs256" // RSA-2048, RS256
	JWTKeyES256 JWTKeyKind = "es256" // ECDSA P-256, ES256
	JWTKeyES384 JWTKeyKind = "es384" // ECDSA P-384, ES384
)

// JWTKeyKinds lists the kinds in the order the CLI documents them.
var JWTKeyKinds = []JWTKeyKind{JWTKeyRS256, JWTKeyES256, JWTKeyES384}

// Defaults and limits of SignJWT.
const (
	// DefaultJWTLifetime is exp − iat when JWTOptions.Lifetime is zero (an
	// hour, like Kubernetes' default projected token).
	DefaultJWTLifetime = time.Hour
	// DefaultJWTIssuer is the iss when none is given. It is https, as the
	// server requires of a config's issuerUrl.
	DefaultJWTIssuer = "https://s3fed-test-idp.example"
)

// KeygenJWT makes a fresh JWT signing key of the given kind and returns it
// as PKCS#8 PEM; the matching public JWK Set is ParseJWTKey(pem).JWKS().
func KeygenJWT(kind JWTKeyKind) ([]byte, error) {
	var key crypto.Signer
	var err error
	switch kind {
	case JWTKeyRS256, "":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case JWTKeyES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case JWTKeyES384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		return nil, fmt.Errorf("idp keygen: unknown JWT key kind %q (want one of %s)", kind, joinJWTKinds())
	}
	if err != nil {
		return nil, fmt.Errorf("idp keygen: generate %s key: %w", kind, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("idp keygen: encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func joinJWTKinds() string {
	s := make([]string, len(JWTKeyKinds))
	for i, k := range JWTKeyKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// JWTKey is a parsed JWT signing key.
type JWTKey struct {
	// Signer is an *rsa.PrivateKey or an *ecdsa.PrivateKey (P-256, P-384).
	Signer crypto.Signer
	// KeyID is the kid put in token headers and the JWK: by default the
	// key's RFC 7638 thumbprint, so it is stable for a key file.
	KeyID string
	// Algorithm is the default alg: RS256 for RSA, ES256 or ES384 by curve.
	Algorithm string
}

// ParseJWTKey reads a PEM private key (PKCS#8, PKCS#1 or SEC 1) for signing
// JWTs. RSA keys need at least 2048 bits; ECDSA keys must be P-256 or P-384.
func ParseJWTKey(keyPEM []byte) (*JWTKey, error) {
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		return nil, errors.New("idp: JWT key: no PEM block found")
	}
	var parsed any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("idp: JWT key: unsupported PEM block %q (want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)", b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("idp: parse JWT key: %w", err)
	}
	return NewJWTKey(parsed)
}

// NewJWTKey wraps an *rsa.PrivateKey or *ecdsa.PrivateKey.
func NewJWTKey(key any) (*JWTKey, error) {
	k := &JWTKey{}
	switch key := key.(type) {
	case *rsa.PrivateKey:
		if key.N.BitLen() < 2048 {
			return nil, fmt.Errorf("idp: RSA key is %d bits, at least 2048 required", key.N.BitLen())
		}
		k.Signer, k.Algorithm = key, "RS256"
	case *ecdsa.PrivateKey:
		switch key.Curve {
		case elliptic.P256():
			k.Algorithm = "ES256"
		case elliptic.P384():
			k.Algorithm = "ES384"
		default:
			return nil, fmt.Errorf("idp: ECDSA curve %s not supported (P-256, P-384)", key.Curve.Params().Name)
		}
		k.Signer = key
	default:
		return nil, fmt.Errorf("idp: JWT key type %T not supported (want RSA or ECDSA)", key)
	}
	k.KeyID = thumbprint(k.PublicJWK())
	return k, nil
}

// PublicJWK is the key's public JWK (RFC 7517) with kid, alg and use=sig.
func (k *JWTKey) PublicJWK() map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	m := map[string]any{"use": "sig", "alg": k.Algorithm}
	if k.KeyID != "" {
		m["kid"] = k.KeyID
	}
	switch pub := k.Signer.Public().(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = b64(pub.N.Bytes())
		m["e"] = b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		m["kty"] = "EC"
		m["crv"] = pub.Curve.Params().Name
		m["x"] = b64(pub.X.FillBytes(make([]byte, size)))
		m["y"] = b64(pub.Y.FillBytes(make([]byte, size)))
	}
	return m
}

// thumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url) of the
// required members.
func thumbprint(jwk map[string]any) string {
	var s string
	switch jwk["kty"] {
	case "RSA":
		s = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, jwk["e"], jwk["n"])
	case "EC":
		s = fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, jwk["crv"], jwk["x"], jwk["y"])
	}
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// JWKS is the public JWK Set of keys: what an OIDC config's "jwks" takes
// and what IssuerHandler serves.
func JWKS(keys ...*JWTKey) []byte {
	set := struct {
		Keys []map[string]any `json:"keys"`
	}{Keys: []map[string]any{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.PublicJWK())
	}
	out, _ := json.Marshal(set) // maps of strings always marshal
	return out
}

// JWTOptions describes one token for SignJWT. Zero values give a token a
// config with Issuer DefaultJWTIssuer and the same audience accepts.
type JWTOptions struct {
	// Key signs; required.
	Key *JWTKey
	// Algorithm overrides Key.Algorithm (RS256/384/512 or PS256/384/512 for
	// RSA, the curve's ES alg for ECDSA).
	Algorithm string
	// Issuer is iss; empty means DefaultJWTIssuer.
	Issuer string
	// Subject is sub; required unless Claims sets "sub".
	Subject string
	// Audience is aud: one value is written as a string, several as an
	// array. Required unless Claims sets "aud".
	Audience []string
	// IssuedAt is iat; zero means Now().
	IssuedAt time.Time
	// Lifetime is exp − iat; zero means DefaultJWTLifetime.
	Lifetime time.Duration
	// NotBefore is nbf, written only when set.
	NotBefore time.Time
	// Claims are added last and may replace any registered claim (the
	// negative tests build refused tokens this way).
	Claims map[string]any
	// Header members are added to {"alg","kid","typ":"JWT"} last and may
	// replace them; a nil value removes a member.
	Header map[string]any
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// SignJWT builds and signs a JWT in compact serialisation.
func SignJWT(o JWTOptions) (string, error) {
	if o.Key == nil {
		return "", errors.New("idp sign-jwt: no signing key")
	}
	alg := o.Algorithm
	if alg == "" {
		alg = o.Key.Algorithm
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	iat := o.IssuedAt
	if iat.IsZero() {
		iat = now()
	}
	life := o.Lifetime
	if life == 0 {
		life = DefaultJWTLifetime
	}
	claims := map[string]any{
		"iss": or(o.Issuer, DefaultJWTIssuer),
		"iat": iat.Unix(),
		"exp": iat.Add(life).Unix(),
	}
	if o.Subject != "" {
		claims["sub"] = o.Subject
	}
	switch len(o.Audience) {
	case 0:
	case 1:
		claims["aud"] = o.Audience[0]
	default:
		claims["aud"] = slices.Clone(o.Audience)
	}
	if !o.NotBefore.IsZero() {
		claims["nbf"] = o.NotBefore.Unix()
	}
	for k, v := range o.Claims {
		claims[k] = v
	}
	if _, ok := claims["sub"]; !ok {
		return "", errors.New("idp sign-jwt: a subject is required")
	}
	if _, ok := claims["aud"]; !ok {
		return "", errors.New("idp sign-jwt: an audience is required")
	}
	header := map[string]any{"alg": alg, "typ": "JWT", "kid": o.Key.KeyID}
	if o.Key.KeyID == "" {
		delete(header, "kid")
	}
	for k, v := range o.Header {
		if v == nil {
			delete(header, k)
			continue
		}
		header[k] = v
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("idp sign-jwt: header: %w", err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("idp sign-jwt: claims: %w", err)
	}
	return SignJWS(h, p, o.Key, alg)
}

// SignJWS signs arbitrary header and payload bytes as they are (RFC 7515
// §5.1), so tests can build tokens no JSON encoder would write: duplicate
// members, a nested JWS as payload, odd header members. alg must suit the
// key (RS*/PS* for RSA, ES256 for P-256, ES384 for P-384).
func SignJWS(header, payload []byte, k *JWTKey, alg string) (string, error) {
	if k == nil {
		return "", errors.New("idp sign-jwt: no signing key")
	}
	b64 := base64.RawURLEncoding.EncodeToString
	input := b64(header) + "." + b64(payload)
	sig, err := signJWS([]byte(input), k.Signer, alg)
	if err != nil {
		return "", err
	}
	return input + "." + b64(sig), nil
}

func signJWS(input []byte, key crypto.Signer, alg string) ([]byte, error) {
	hashes := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}
	if len(alg) != 5 {
		return nil, fmt.Errorf("idp sign-jwt: unsupported alg %q", alg)
	}
	h, ok := hashes[alg[2:]]
	if !ok {
		return nil, fmt.Errorf("idp sign-jwt: unsupported alg %q", alg)
	}
	d := h.New()
	d.Write(input)
	digest := d.Sum(nil)
	switch key := key.(type) {
	case *rsa.PrivateKey:
		switch alg[:2] {
		case "RS":
			return rsa.SignPKCS1v15(rand.Reader, key, h, digest)
		case "PS":
			return rsa.SignPSS(rand.Reader, key, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
	case *ecdsa.PrivateKey:
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384()}[alg]
		if want == nil || key.Curve != want {
			return nil, fmt.Errorf("idp sign-jwt: alg %s does not suit a %s key", alg, key.Curve.Params().Name)
		}
		r, s, err := ecdsa.Sign(rand.Reader, key, digest)
		if err != nil {
			return nil, err
		}
		size := (key.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size) // JWS: fixed-width r || s (RFC 7518 §3.4), not DER
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out, nil
	}
	return nil, fmt.Errorf("idp sign-jwt: alg %s does not suit a %T key", alg, key)
}
