// Package identity holds the one shape every federation kind ends in.
//
// SAML and OIDC verifiers, the attribute mapping, credentials, policies and the
// audit log all speak Identity and nothing else, so a policy or an audit reader
// never needs to know which protocol vouched for a caller (DESIGN.md decision 3).
package identity

// Provider names the federation protocol that vouched for an identity. It is
// also the prefix of a principal name ("saml/alice@example.com").
type Provider string

// The federation kinds s3fed accepts.
const (
	ProviderSAML Provider = "saml"
	ProviderOIDC Provider = "oidc"
)

// Identity is a verified caller: every field comes from content whose signature
// was checked against the federation config's trusted keys, or from the config
// itself. Nothing in it may be taken from an unverified message.
type Identity struct {
	// OrgID is the organisation that owns the federation config; tenancy
	// boundaries are drawn on it.
	OrgID string `json:"orgId"`
	// ConfigID is the federation config that accepted the assertion.
	ConfigID string `json:"configId"`
	// Provider is the federation kind that vouched for the subject.
	Provider Provider `json:"provider"`
	// Subject is the IdP's name for the caller (PrincipalName attribute,
	// NameID, or the OIDC sub claim), without the provider prefix.
	Subject string `json:"subject"`
	// PrincipalName is Provider + "/" + Subject. It is org-wide: two configs
	// of one org that yield the same name are the same principal.
	PrincipalName string `json:"principalName"`
	// Role is the single role the caller assumes.
	Role string `json:"role"`
	// Groups are set only by a config's attribute mapping.
	Groups []string `json:"groups,omitempty"`
	// Attributes are every attribute of the assertion, multi-valued, keyed by
	// the attribute's Name as the IdP sent it.
	Attributes map[string][]string `json:"attributes,omitempty"`
}

// PrincipalName joins a provider and a subject into the org-wide principal
// name that policies and the audit log use.
func PrincipalName(p Provider, subject string) string {
	return string(p) + "/" + subject
}
