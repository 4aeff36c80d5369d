// Package mapping turns a verified assertion into the one identity shape
// the rest of s3fed speaks (identity.Identity).
//
// It is protocol-neutral: SAML and OIDC verifiers' results become an Input
// (SAMLInput, OIDCInput) and everything here reads only Input. The default
// mappings live here: the CoreWeave-compatible ones used by the JSON
// exchange endpoints (DefaultSAML, DefaultOIDC, Default) and the
// AWS-compatible one used by AssumeRoleWithSAML (AWSSAML). A config's CEL
// attributeMapping and attributeCondition (cel.go: Compile, Rules) replace
// the targets they name, with GCP's inputs and limits (API.md "Federation
// configs beyond SAML basics"). The package does no I/O and reads only
// verified content, so an identity can never be built from unverified
// bytes.
//
// Every name that ends in an identity — subject/principal, role, group,
// CEL-mapped attribute value — goes through checkChars (and the byte limits)
// whichever path produced it, default or CEL; a character rule added there
// applies to all of them.
//
// Decision on errors: every way a verified assertion can fail a mapping rule
// (Role missing or multi-valued, empty or over-long principal, characters
// identity.CheckName refuses, no RoleArn pair, a CEL expression that fails or yields the
// wrong type, a false attributeCondition) is CodeConditionNotMet (HTTP 403),
// because the IdP vouched for the message and it is the org's mapping
// requirement that is not met; the message names the attribute or the
// target. Bad request input that is not part of the assertion (a malformed
// RoleArn) and CEL rules refused when a config is written are
// CodeInvalidArgument (HTTP 400). Caller faults (nil assertion, empty org or
// config ID) are plain errors, not *Error: they are server bugs (5xx).
package mapping

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/s3fed/s3fed/internal/identity"
	"github.com/s3fed/s3fed/internal/saml"
)

// Attribute names the default mappings read.
const (
	// CoreWeaveRoleAttribute carries the role for the JSON exchange; it must
	// have exactly one value (API.md).
	CoreWeaveRoleAttribute = "https://coreweave.com/SAML/Attributes/Role"
	// CoreWeavePrincipalNameAttribute carries the principal; NameID is the
	// fallback when it is absent.
	CoreWeavePrincipalNameAttribute = "https://coreweave.com/SAML/Attributes/PrincipalName"
	// AWSRoleAttribute carries "roleArn,principalArn" pairs (either order),
	// one per role the user may assume (AWS IAM SAML docs).
	AWSRoleAttribute = "https://aws.amazon.com/SAML/Attributes/Role"
	// AWSRoleSessionNameAttribute names the session; AssumeRoleWithSAML
	// uses it as the subject.
	AWSRoleSessionNameAttribute = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
)

// Limits of the mappings (API.md: a principalName is at most 256 bytes).
const (
	// MaxPrincipalNameBytes bounds the whole principal name, "saml/"
	// prefix included.
	MaxPrincipalNameBytes = 256
	// MaxRoleBytes bounds a role name; roles appear in policies as
	// "role/NAME", so the bound matches a principal's.
	MaxRoleBytes = 256
	// MinRoleSessionName and MaxRoleSessionName are AWS STS's bounds for
	// RoleSessionName.
	MinRoleSessionName = 2
	MaxRoleSessionName = 64
	// maxQuoted bounds a value fragment quoted in an error message, so a
	// message never carries a large blob from the assertion.
	maxQuoted = 64
)

// Error codes of API.md that a mapping failure maps to.
const (
	// CodeConditionNotMet (403): the verified assertion does not satisfy
	// the mapping's requirements.
	CodeConditionNotMet = "condition_not_met"
	// CodeInvalidArgument (400): request input outside the assertion (the
	// RoleArn of AssumeRoleWithSAML) is malformed.
	CodeInvalidArgument = "invalid_argument"
)

// Error is a refusal by a mapping. Code is one of API.md's error codes and
// Message tells the org admin which attribute is wrong and why; it quotes at
// most a short, escaped fragment of a value.
type Error struct {
	Code, Message string
}

// Error renders "code: message".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

func notMet(format string, args ...any) *Error {
	return &Error{Code: CodeConditionNotMet, Message: fmt.Sprintf(format, args...)}
}

func quote(s string) string {
	if len(s) > maxQuoted {
		cut := maxQuoted
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// DefaultSAML is the CoreWeave-compatible mapping of the JSON exchange
// endpoint (API.md): role from CoreWeaveRoleAttribute (exactly one
// non-empty value), subject from CoreWeavePrincipalNameAttribute (exactly one
// non-empty value when present) or else the NameID, principal name
// "saml/<subject>", no groups, and every attribute kept. Values are used as
// the IdP sent them, never trimmed; characters identity.CheckName refuses
// (control characters, including TAB, CR, LF from a pretty-printed value;
// invisible format and bidi characters) are refused rather than silently
// altered.
func DefaultSAML(a *saml.Assertion, orgID, configID string) (identity.Identity, error) {
	if err := checkCaller(a, orgID, configID); err != nil {
		return identity.Identity{}, err
	}
	return Default(SAMLInput(a), orgID, configID)
}

// AWSSAML is the AWS-compatible mapping of AssumeRoleWithSAML. roleArn is
// the request's RoleArn, "arn:aws:iam::ORG:role/ROLE" with ORG = orgID. The
// assertion's AWSRoleAttribute must hold a pair of exactly that role ARN and
// this config's provider ARN (AWSProviderARN(orgID, configID)), in either
// order, as AWS requires; the identity's role is ROLE. The subject is the
// single AWSRoleSessionNameAttribute value, which AWS requires and restricts
// to 2–64 characters of [A-Za-z0-9_+=,.@-]. Every attribute is kept.
func AWSSAML(a *saml.Assertion, orgID, configID, roleArn string) (identity.Identity, error) {
	if err := checkCaller(a, orgID, configID); err != nil {
		return identity.Identity{}, err
	}
	arnOrg, role, err := ParseAWSRoleARN(roleArn)
	if err != nil {
		return identity.Identity{}, err
	}
	if arnOrg != orgID {
		return identity.Identity{}, &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf("RoleArn account %s is not the organisation %s of the SAML provider", quote(arnOrg), quote(orgID))}
	}
	if err := checkRole(role, "RoleArn"); err != nil {
		var me *Error
		if errors.As(err, &me) {
			// A bad role name here is request input, not assertion content.
			return identity.Identity{}, &Error{Code: CodeInvalidArgument, Message: me.Message}
		}
		return identity.Identity{}, err
	}

	provider := AWSProviderARN(orgID, configID)
	values := a.Attributes[AWSRoleAttribute]
	if len(values) == 0 {
		return identity.Identity{}, notMet("attribute %s is missing: it must pair RoleArn %s with %s", AWSRoleAttribute, quote(roleArn), quote(provider))
	}
	found := false
	for _, v := range values {
		r, p, ok := splitRolePair(v)
		if ok && r == roleArn && p == provider {
			found = true
			break
		}
	}
	if !found {
		return identity.Identity{}, notMet("no value of attribute %s pairs RoleArn %s with %s (%d values)", AWSRoleAttribute, quote(roleArn), quote(provider), len(values))
	}

	session, err := singleValue(a.Attributes, AWSRoleSessionNameAttribute, true)
	if err != nil {
		return identity.Identity{}, err
	}
	if n := len(session); n < MinRoleSessionName || n > MaxRoleSessionName {
		return identity.Identity{}, notMet("attribute %s must be %d to %d characters, got %d", AWSRoleSessionNameAttribute, MinRoleSessionName, MaxRoleSessionName, n)
	}
	for _, c := range session {
		if !isSessionNameChar(c) {
			return identity.Identity{}, notMet("attribute %s value %s has %q; allowed are letters, digits and _+=,.@-", AWSRoleSessionNameAttribute, quote(session), c)
		}
	}
	return build(a, orgID, configID, session, "attribute "+AWSRoleSessionNameAttribute, role)
}

// ParseAWSRoleARN splits "arn:aws:iam::ORG:role/ROLE" (API.md's RoleArn)
// into ORG and ROLE. IAM role paths ("role/path/ROLE") are not used by
// s3fed and are refused, so one ARN names one role.
func ParseAWSRoleARN(arn string) (org, role string, err error) {
	const prefix = "arn:aws:iam::"
	bad := func(why string) (string, string, error) {
		return "", "", &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf("RoleArn %s %s; want arn:aws:iam::ORG:role/ROLE", quote(arn), why)}
	}
	rest, ok := strings.CutPrefix(arn, prefix)
	if !ok {
		return bad("does not start with " + prefix)
	}
	org, res, ok := strings.Cut(rest, ":")
	if !ok || org == "" {
		return bad("has no organisation")
	}
	role, ok = strings.CutPrefix(res, "role/")
	if !ok {
		return bad("is not a role ARN")
	}
	if role == "" {
		return bad("has an empty role name")
	}
	if strings.Contains(role, "/") {
		return bad("has a role path, which s3fed does not support")
	}
	return org, role, nil
}

// AWSProviderARN is the PrincipalArn that names a SAML config in
// AssumeRoleWithSAML (API.md): "arn:aws:iam::ORG:saml-provider/CONFIG".
func AWSProviderARN(orgID, configID string) string {
	return "arn:aws:iam::" + orgID + ":saml-provider/" + configID
}

// splitRolePair reads one AWSRoleAttribute value: a role ARN and a
// saml-provider ARN separated by a comma, in either order, with optional
// spaces around each (IdP admin consoles produce both).
func splitRolePair(v string) (roleArn, providerArn string, ok bool) {
	a, b, ok := strings.Cut(v, ",")
	if !ok || strings.Contains(b, ",") {
		return "", "", false
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	isRole := func(s string) bool { return strings.HasPrefix(s, "arn:aws:iam::") && strings.Contains(s, ":role/") }
	isProv := func(s string) bool {
		return strings.HasPrefix(s, "arn:aws:iam::") && strings.Contains(s, ":saml-provider/")
	}
	switch {
	case isRole(a) && isProv(b):
		return a, b, true
	case isProv(a) && isRole(b):
		return b, a, true
	}
	return "", "", false
}

func isSessionNameChar(c rune) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strings.ContainsRune("_+=,.@-", c)
}

func checkCaller(a *saml.Assertion, orgID, configID string) error {
	switch {
	case a == nil:
		return errors.New("mapping: nil assertion")
	case orgID == "":
		return errors.New("mapping: empty org ID")
	case configID == "":
		return errors.New("mapping: empty config ID")
	}
	return nil
}

// singleValue returns the one value of attribute name. A missing attribute
// is an error only when required; several values or an empty value always
// are.
func singleValue(attrs map[string][]string, name string, required bool) (string, error) {
	vs, ok := attrs[name]
	switch {
	case !ok || len(vs) == 0:
		if !required && !ok {
			return "", nil
		}
		return "", notMet("attribute %s must have exactly one value, it has none", name)
	case len(vs) > 1:
		return "", notMet("attribute %s must have exactly one value, it has %d", name, len(vs))
	case vs[0] == "":
		return "", notMet("attribute %s has an empty value", name)
	}
	return vs[0], nil
}

func checkRole(role, source string) error {
	if role == "" {
		return notMet("%s: empty role", source)
	}
	if len(role) > MaxRoleBytes {
		return notMet("%s: role is %d bytes, at most %d allowed", source, len(role), MaxRoleBytes)
	}
	return checkChars(role, source)
}

// checkChars applies identity.CheckName, the one character rule for names
// (no invalid UTF-8, control, format, bidi, zero-width, separator,
// private-use or unassigned characters), naming the source, the value
// (escaped) and the byte offset of the first refused character.
func checkChars(s, source string) error {
	if err := identity.CheckName(s); err != nil {
		return notMet("%s: value %s: %v", source, quote(s), err)
	}
	return nil
}

func build(a *saml.Assertion, orgID, configID, subject, source, role string) (identity.Identity, error) {
	return buildIdentity(identity.ProviderSAML, orgID, configID, subject, source, role, nil, defaultAttributes(SAMLInput(a)))
}
