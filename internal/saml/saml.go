package saml

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// Namespaces of the SAML 2.0 and XML-DSig vocabularies the validator accepts.
const (
	NSProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	NSAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	NSDSig      = "http://www.w3.org/2000/09/xmldsig#"
	NSExcC14N   = "http://www.w3.org/2001/10/xml-exc-c14n#"
)

// Well-known SAML URIs the policy layer compares against.
const (
	StatusSuccess       = "urn:oasis:names:tc:SAML:2.0:status:Success"
	MethodBearer        = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
	NameIDFormatEntity  = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
	SAMLVersion         = "2.0"
	MaxIssueInstantAge  = 10 * time.Minute // IssueInstant older than this is refused (SAML-THREATS.md)
	MaxSkew             = 180 * time.Second
	MaxNameIDLength     = 256 // bytes; principal names are limited to 256 bytes by API.md
	maxTrustedCerts     = 3
	minRSABits          = 2048
	maxRSABits          = 8192
	maxIDLength         = 256
	maxReasonValueBytes = 64 // longest piece of message text ever quoted in Error.Reason
)

// Limits of the byte pre-filter. They are exported so callers (HTTP layer, docs, tests) state the
// same numbers; every one of them is enforced before any signature work and is covered by a test.
const (
	// MaxDecodedSize caps the decoded XML (API.md: 256 KiB, else invalid_saml_response).
	MaxDecodedSize = 256 << 10
	// MaxEncodedSize caps the base64 text before it is decoded: the base64 of MaxDecodedSize plus
	// a CR/LF every 64 characters, rounded up. Larger input is refused without decoding.
	MaxEncodedSize = 360 << 10
	// MaxDepth is the deepest element nesting accepted (a real Response is about 8 deep).
	MaxDepth = 48
	// MaxElements is the total number of elements accepted in one document. goxmldsig v1.6.1
	// refuses to traverse more than 1,000 nodes (its canonicalisation DoS fix), so a larger
	// document could never verify; refusing it here gives a clear error before any crypto.
	MaxElements = 1000
	// MaxAttributesPerElement counts attributes including namespace declarations on one element.
	MaxAttributesPerElement = 32
	// MaxAttributes is the total number of attributes (including namespace declarations) in the
	// document; a 1,000-element Response in Okta's shape has about 3,000.
	MaxAttributes = 8192
	// MaxNamespaceDeclsPerElement caps xmlns declarations on one element.
	MaxNamespaceDeclsPerElement = 16
	// MaxNamespaceDecls caps xmlns declarations in the whole document (some IdPs declare xs/xsi
	// on every AttributeValue, so this is generous).
	MaxNamespaceDecls = 4096
	// MaxNameLength caps an element or attribute name (prefix and local part each).
	MaxNameLength = 128
	// MaxSignatureValueLength caps the base64 text of a SignatureValue (RSA-8192 needs 1,368).
	MaxSignatureValueLength = 2048
	// MaxKeyInfoCertificateLength caps the base64 text of one KeyInfo X509Certificate; KeyInfo is
	// only compared byte-for-byte with trusted certificates, never parsed.
	MaxKeyInfoCertificateLength = 16 << 10
)

// Config is everything one federation config contributes to validation.
type Config struct {
	IdPEntityID  string              // expected Issuer of Response (when present) and Assertion
	Certificates []*x509.Certificate // trusted signing certs (1-3); expired ones are skipped
	ACSURL       string              // expected Destination and bearer Recipient, exact string
	Audience     string              // must appear in every AudienceRestriction
	Skew         time.Duration       // clock skew, 0..180s
	Now          func() time.Time    // nil means time.Now
	Replay       ReplayCache         // required; nil is a configuration error (fail closed)

	// DecryptionKeys are the config's encryption keys (0..3): an EncryptedAssertion is decrypted
	// with each in turn. Without any, every EncryptedAssertion is refused.
	DecryptionKeys []DecryptionKey
	// RequireEncryptedAssertions refuses a plaintext Assertion, so an IdP misconfigured to stop
	// encrypting is noticed at once rather than leaking assertions in the clear.
	RequireEncryptedAssertions bool
	// AllowLegacyEncryption also accepts rsa-1_5 key transport and AES-CBC / 3DES-CBC data
	// encryption, for IdPs that cannot do better. Every decryption failure then gives the same
	// error (no padding or parse oracle), but CBC stays unauthenticated: opt in only when the IdP
	// leaves no choice.
	AllowLegacyEncryption bool
}

// ReplayCache remembers (issuer, assertion ID) until `until`, shared by every replica. Claim returns
// ErrReplayed (wrapped ok) when the pair was seen; any other error means the cache failed and
// validation must fail closed.
type ReplayCache interface {
	Claim(ctx context.Context, issuer, assertionID string, until time.Time) error
}

// ErrReplayed is what a ReplayCache returns for a second claim of the same (issuer, ID).
var ErrReplayed = errors.New("assertion already used")

// ErrInvalidConfig is wrapped by the (non-*Error) error Validate returns when the Config itself is
// unusable (nil Replay, no IdP entity ID, bad skew, ...). It is a server-side fault (5xx), not a
// refusal of the message, and it never yields an Assertion.
var ErrInvalidConfig = errors.New("saml: invalid federation config")

// ErrReplayCacheUnavailable is wrapped by the (non-*Error) error Validate returns when the replay
// cache failed: the exchange is refused (fail closed) and the caller should answer 5xx/503.
var ErrReplayCacheUnavailable = errors.New("saml: replay cache unavailable")

// Assertion holds only values read from verified content (the element returned by goxmldsig).
type Assertion struct {
	ID, Issuer, NameID, NameIDFormat string
	SessionIndex                     string
	Attributes                       map[string][]string // attribute Name -> values (whole text content)
	IssueInstant, AuthnInstant       time.Time
	NotBefore, NotOnOrAfter          time.Time // Conditions
	SubjectNotOnOrAfter              time.Time // bearer SubjectConfirmationData
	SessionNotOnOrAfter              time.Time // AuthnStatement, zero when absent
	ResponseSigned, AssertionSigned  bool
	// ReplayUntil is how long the replay entry was claimed for (later NotOnOrAfter + skew).
	ReplayUntil time.Time
	// ResponseCertificate / AssertionCertificate are the trusted certificates that verified the
	// Response and Assertion signatures (nil when that element was not signed). For audit.
	ResponseCertificate, AssertionCertificate *x509.Certificate
	// Encrypted is true when the Assertion arrived as an EncryptedAssertion; DecryptionKeyID
	// names the config key that decrypted it. For audit.
	Encrypted       bool
	DecryptionKeyID string
}

// Code is a stable machine code; the values are exactly API.md's error codes.
type Code string

// The error codes of API.md that a refused SAML Response maps to.
const (
	CodeInvalidResponse  Code = "invalid_saml_response"
	CodeInvalidSignature Code = "invalid_signature"
	CodeUntrustedKey     Code = "untrusted_key"
	CodeExpired          Code = "assertion_expired"
	CodeNotYetValid      Code = "assertion_not_yet_valid"
	CodeAudience         Code = "audience_mismatch"
	CodeDestination      Code = "destination_mismatch"
	CodeRecipient        Code = "recipient_mismatch"
	CodeIssuer           Code = "issuer_mismatch"
	CodeReplayed         Code = "replayed_assertion"
)

// Error is a refusal of the message. Reason is safe to show to the caller: it never echoes secrets
// or the assertion, only short quoted fragments (at most 64 bytes) where that helps an admin.
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

// Unwrap exposes the underlying cause (e.g. ErrReplayed) to errors.Is / errors.As.
func (e *Error) Unwrap() error { return e.Err }

func refuse(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

func refuseWrap(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...), Err: err}
}

// quote renders a message fragment for an error Reason: truncated and %q-escaped so no control
// characters or long blobs reach logs or callers.
func quote(s string) string {
	if len(s) > maxReasonValueBytes {
		s = s[:maxReasonValueBytes] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// Check is one step of validation for the config ":test" endpoint.
type Check struct {
	Name   string
	Passed bool
	Detail string
}

// Validate decodes base64 (strict, CR/LF allowed), pre-filters bytes, verifies, checks policy, and
// finally claims the replay entry. It returns *Error on every refusal of the message; a broken
// Config or replay cache gives an error wrapping ErrInvalidConfig / ErrReplayCacheUnavailable.
// It never returns a non-nil Assertion together with an error.
func Validate(ctx context.Context, samlResponseB64 string, cfg *Config) (*Assertion, error) {
	a, err := run(ctx, samlResponseB64, nil, cfg, nil, true)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// ValidateXML is the same on already-decoded XML bytes (for tests and the :test endpoint).
func ValidateXML(ctx context.Context, xml []byte, cfg *Config) (*Assertion, error) {
	a, err := run(ctx, "", xml, cfg, nil, false)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// ValidateWithReport runs every check Validate runs, in the same order, and additionally returns
// the list of checks with their outcome (stopping at the first failure) for the config ":test"
// endpoint. When claimReplay is false the replay cache is not touched (a dry run must not burn an
// assertion); cfg.Replay may then be nil.
func ValidateWithReport(ctx context.Context, samlResponseB64 string, cfg *Config, claimReplay bool) (*Assertion, []Check, error) {
	var rep report
	rep.enabled = true
	a, err := run(ctx, samlResponseB64, nil, cfg, &rep, true, withoutReplay(!claimReplay))
	if err != nil {
		return nil, rep.checks, err
	}
	return a, rep.checks, nil
}

type runOption func(*runState)

type runState struct {
	skipReplay bool
}

func withoutReplay(skip bool) runOption { return func(s *runState) { s.skipReplay = skip } }

// report collects checks for ValidateWithReport; a nil *report records nothing.
type report struct {
	enabled bool
	checks  []Check
}

func (r *report) pass(name, format string, args ...any) {
	if r == nil || !r.enabled {
		return
	}
	r.checks = append(r.checks, Check{Name: name, Passed: true, Detail: fmt.Sprintf(format, args...)})
}

func (r *report) fail(name string, err error) {
	if r == nil || !r.enabled {
		return
	}
	r.checks = append(r.checks, Check{Name: name, Passed: false, Detail: err.Error()})
}

// recoveredPanics counts panics turned into refusals; tests fail when it is not zero, so the
// safety net never hides a bug.
var (
	recoveredPanics atomic.Int64
	lastPanic       atomic.Value // string
)

func run(ctx context.Context, b64 string, raw []byte, cfg *Config, rep *report, decode bool, opts ...runOption) (a *Assertion, err error) {
	var st runState
	for _, o := range opts {
		o(&st)
	}
	// Defence in depth: a bug deep in a parser must become a refusal, never a crash of the server.
	defer func() {
		if p := recover(); p != nil {
			recoveredPanics.Add(1)
			lastPanic.Store(fmt.Sprint(p))
			a, err = nil, refuse(CodeInvalidResponse, "internal validation failure")
		}
	}()
	if err := checkConfig(cfg, st.skipReplay); err != nil {
		rep.fail("config", err)
		return nil, err
	}
	if decode {
		raw, err = decodeBase64(b64)
		if err != nil {
			rep.fail("decode", err)
			return nil, err
		}
		rep.pass("decode", "%d bytes of XML", len(raw))
	}
	v := &validator{cfg: cfg, now: cfg.now(), rep: rep}
	a, err = v.validate(raw)
	if err != nil {
		if rep != nil && rep.enabled && (len(rep.checks) == 0 || rep.checks[len(rep.checks)-1].Passed) {
			rep.fail("validation", err) // every refusal ends the report with a failed check
		}
		return nil, err
	}
	if st.skipReplay {
		rep.pass("replay", "not claimed (dry run)")
		return a, nil
	}
	if err := cfg.Replay.Claim(ctx, a.Issuer, a.ID, a.ReplayUntil); err != nil {
		if errors.Is(err, ErrReplayed) {
			e := refuseWrap(CodeReplayed, err, "assertion ID %s from this issuer was already used", quote(a.ID))
			rep.fail("replay", e)
			return nil, e
		}
		e := fmt.Errorf("%w: claim (issuer, assertion ID): %w", ErrReplayCacheUnavailable, err)
		rep.fail("replay", e)
		return nil, e
	}
	rep.pass("replay", "claimed until %s", a.ReplayUntil.UTC().Format(time.RFC3339))
	return a, nil
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func checkConfig(cfg *Config, skipReplay bool) error {
	switch {
	case cfg == nil:
		return fmt.Errorf("%w: nil config", ErrInvalidConfig)
	case cfg.Replay == nil && !skipReplay:
		return fmt.Errorf("%w: no replay cache (refusing to validate without one)", ErrInvalidConfig)
	case cfg.IdPEntityID == "":
		return fmt.Errorf("%w: empty IdP entity ID", ErrInvalidConfig)
	case cfg.ACSURL == "":
		return fmt.Errorf("%w: empty ACS URL", ErrInvalidConfig)
	case cfg.Audience == "":
		return fmt.Errorf("%w: empty audience", ErrInvalidConfig)
	case cfg.Skew < 0 || cfg.Skew > MaxSkew:
		return fmt.Errorf("%w: clock skew %s outside 0..%s", ErrInvalidConfig, cfg.Skew, MaxSkew)
	case len(cfg.Certificates) == 0 || len(cfg.Certificates) > maxTrustedCerts:
		return fmt.Errorf("%w: %d trusted certificates (want 1..%d)", ErrInvalidConfig, len(cfg.Certificates), maxTrustedCerts)
	}
	for i, c := range cfg.Certificates {
		if c == nil {
			return fmt.Errorf("%w: trusted certificate %d is nil", ErrInvalidConfig, i)
		}
	}
	if len(cfg.DecryptionKeys) > MaxDecryptionKeys {
		return fmt.Errorf("%w: %d encryption keys (at most %d)", ErrInvalidConfig, len(cfg.DecryptionKeys), MaxDecryptionKeys)
	}
	if cfg.RequireEncryptedAssertions && len(cfg.DecryptionKeys) == 0 {
		return fmt.Errorf("%w: encrypted assertions required but the config has no encryption key", ErrInvalidConfig)
	}
	for i, k := range cfg.DecryptionKeys {
		if k.Key == nil || k.Key.N == nil {
			return fmt.Errorf("%w: encryption key %d has no private key", ErrInvalidConfig, i)
		}
		if n := k.Key.N.BitLen(); n < MinDecryptionKeyBits || n > MaxDecryptionKeyBits {
			return fmt.Errorf("%w: encryption key %d is RSA-%d (want %d..%d bits)", ErrInvalidConfig, i, n, MinDecryptionKeyBits, MaxDecryptionKeyBits)
		}
	}
	return nil
}

// ACSURL is the Destination and bearer Recipient every Response must carry for a service whose
// public URL is publicURL (API.md: <public-url>/m2m-saml-acs). The server, the SP metadata and the
// test IdP all derive it here so the exact-string comparison cannot drift between them.
func ACSURL(publicURL string) string {
	return strings.TrimRight(publicURL, "/") + "/m2m-saml-acs"
}

// AudienceURL is the Audience an organisation's Responses must name
// (API.md: <public-url>/accounts/saml/ORG/metadata/).
func AudienceURL(publicURL, orgID string) string {
	return strings.TrimRight(publicURL, "/") + "/accounts/saml/" + orgID + "/metadata/"
}
