package mapping

import (
	"errors"
	"fmt"
	"slices"

	"github.com/s3fed/s3fed/internal/identity"
	"github.com/s3fed/s3fed/internal/oidc"
	"github.com/s3fed/s3fed/internal/saml"
)

// Input is what a verified assertion contributes to a mapping, whatever
// the protocol: SAML and OIDC verifiers' results are turned into one Input
// (SAMLInput, OIDCInput), and everything after that — default mappings,
// CEL attribute mappings and conditions — reads only Input. Every field
// comes from verified content.
type Input struct {
	// Provider is the federation kind that verified the assertion.
	Provider identity.Provider
	// Issuer is the SAML IdP entity ID or the OIDC iss.
	Issuer string
	// Subject is the SAML NameID or the OIDC sub.
	Subject string
	// Attributes are the SAML attributes (Name → values); nil for OIDC.
	Attributes map[string][]string
	// Claims are the OIDC claims as JSON values (string, float64, bool,
	// nil, []any, map[string]any); nil for SAML. Read-only.
	Claims map[string]any
}

// SAMLInput is the Input of a verified SAML assertion.
func SAMLInput(a *saml.Assertion) Input {
	return Input{Provider: identity.ProviderSAML, Issuer: a.Issuer, Subject: a.NameID, Attributes: a.Attributes}
}

// OIDCInput is the Input of a verified OIDC token.
func OIDCInput(t *oidc.Token) Input {
	return Input{Provider: identity.ProviderOIDC, Issuer: t.Issuer, Subject: t.Subject, Claims: t.Claims}
}

// Claim names the default OIDC mapping reads (API.md "OIDC configs":
// CoreWeave's two documented forms).
const (
	// CoreWeaveRoleClaim carries the role; without it the role is
	// ISSUER:SUBJECT.
	CoreWeaveRoleClaim = "https://coreweave.com/claims/role"
	// CoreWeavePrincipalClaim carries the principal; without it the
	// principal is the sub claim.
	CoreWeavePrincipalClaim = "https://coreweave.com/claims/principal"
)

// Default is the mapping a config without attributeMapping uses: DefaultSAML
// for SAML, DefaultOIDC for OIDC.
func Default(in Input, orgID, configID string) (identity.Identity, error) {
	if err := checkIDs(orgID, configID); err != nil {
		return identity.Identity{}, err
	}
	role, err := defaultRole(in)
	if err != nil {
		return identity.Identity{}, err
	}
	subject, source, err := defaultSubject(in)
	if err != nil {
		return identity.Identity{}, err
	}
	return buildIdentity(in.Provider, orgID, configID, subject, source, role, nil, defaultAttributes(in))
}

// DefaultOIDC is the CoreWeave-compatible mapping of the OIDC exchange
// (API.md): role = the claim CoreWeaveRoleClaim when present (a non-empty
// string), else "ISSUER:SUBJECT" (iss + ":" + sub, so a policy names
// role/https://idp.example.com:svc-data-ingest); principalName = "oidc/" +
// the claim CoreWeavePrincipalClaim when present (a non-empty string), else
// sub. No groups. Attributes are the claims whose value is a string or an
// array of strings (so attribute/repository_owner/acme works for a GitHub
// token), keyed by claim name.
func DefaultOIDC(in Input, orgID, configID string) (identity.Identity, error) {
	if in.Provider != identity.ProviderOIDC {
		return identity.Identity{}, fmt.Errorf("mapping: DefaultOIDC on a %q input", in.Provider)
	}
	return Default(in, orgID, configID)
}

func checkIDs(orgID, configID string) error {
	switch {
	case orgID == "":
		return errors.New("mapping: empty org ID")
	case configID == "":
		return errors.New("mapping: empty config ID")
	}
	return nil
}

// defaultSubject is the subject without a mapping, and what it was read from.
func defaultSubject(in Input) (subject, source string, err error) {
	switch in.Provider {
	case identity.ProviderSAML:
		if _, ok := in.Attributes[CoreWeavePrincipalNameAttribute]; ok {
			s, err := singleValue(in.Attributes, CoreWeavePrincipalNameAttribute, false)
			return s, "attribute " + CoreWeavePrincipalNameAttribute, err
		}
		if in.Subject == "" {
			return "", "", notMet("no principal: the assertion has no %s attribute and an empty NameID", CoreWeavePrincipalNameAttribute)
		}
		return in.Subject, "NameID", nil
	case identity.ProviderOIDC:
		if _, ok := in.Claims[CoreWeavePrincipalClaim]; ok {
			s, err := stringClaim(in.Claims, CoreWeavePrincipalClaim)
			return s, "claim " + CoreWeavePrincipalClaim, err
		}
		if in.Subject == "" {
			return "", "", notMet("no principal: the token has no %s claim and an empty sub", CoreWeavePrincipalClaim)
		}
		return in.Subject, "claim sub", nil
	}
	return "", "", fmt.Errorf("mapping: unknown provider %q", in.Provider)
}

// defaultRole is the role without a mapping, checked.
func defaultRole(in Input) (string, error) {
	switch in.Provider {
	case identity.ProviderSAML:
		role, err := singleValue(in.Attributes, CoreWeaveRoleAttribute, true)
		if err != nil {
			return "", err
		}
		return role, checkRole(role, "attribute "+CoreWeaveRoleAttribute)
	case identity.ProviderOIDC:
		if _, ok := in.Claims[CoreWeaveRoleClaim]; ok {
			role, err := stringClaim(in.Claims, CoreWeaveRoleClaim)
			if err != nil {
				return "", err
			}
			return role, checkRole(role, "claim "+CoreWeaveRoleClaim)
		}
		role := in.Issuer + ":" + in.Subject
		return role, checkRole(role, "role ISSUER:SUBJECT")
	}
	return "", fmt.Errorf("mapping: unknown provider %q", in.Provider)
}

// defaultAttributes: SAML keeps every attribute; OIDC keeps the claims
// whose value is a string or an array of strings.
func defaultAttributes(in Input) map[string][]string {
	var out map[string][]string
	add := func(k string, v []string) {
		if out == nil {
			out = map[string][]string{}
		}
		out[k] = v
	}
	switch in.Provider {
	case identity.ProviderSAML:
		for k, v := range in.Attributes {
			add(k, slices.Clone(v))
		}
	case identity.ProviderOIDC:
		for k, v := range in.Claims {
			switch v := v.(type) {
			case string:
				add(k, []string{v})
			case []any:
				vs := make([]string, 0, len(v))
				for _, e := range v {
					s, ok := e.(string)
					if !ok {
						vs = nil
						break
					}
					vs = append(vs, s)
				}
				if vs != nil {
					add(k, vs)
				}
			}
		}
	}
	return out
}

func stringClaim(c map[string]any, name string) (string, error) {
	s, ok := c[name].(string)
	if !ok {
		return "", notMet("claim %s must be a string", name)
	}
	if s == "" {
		return "", notMet("claim %s is empty", name)
	}
	return s, nil
}

// buildIdentity assembles and checks the identity every mapping path ends
// in: principal name = provider + "/" + subject within
// MaxPrincipalNameBytes, subject, role and groups through checkChars (the
// one place the character rules for names live, so a rule added there
// applies to default and CEL mappings alike).
func buildIdentity(p identity.Provider, orgID, configID, subject, source, role string, groups []string, attrs map[string][]string) (identity.Identity, error) {
	if subject == "" {
		return identity.Identity{}, notMet("%s: empty subject", source)
	}
	if err := checkChars(subject, source); err != nil {
		return identity.Identity{}, err
	}
	if err := checkRole(role, "role"); err != nil {
		return identity.Identity{}, err
	}
	pn := identity.PrincipalName(p, subject)
	if len(pn) > MaxPrincipalNameBytes {
		return identity.Identity{}, notMet("%s: principal name %s is %d bytes, at most %d allowed", source, quote(pn), len(pn), MaxPrincipalNameBytes)
	}
	return identity.Identity{
		OrgID:         orgID,
		ConfigID:      configID,
		Provider:      p,
		Subject:       subject,
		PrincipalName: pn,
		Role:          role,
		Groups:        groups,
		Attributes:    attrs,
	}, nil
}
