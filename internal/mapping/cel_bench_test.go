package mapping

import (
	"context"
	"testing"
)

// BenchmarkCELMapping is the per-exchange cost of the mapping step (goal:
// at most 20 µs for GCP's example mapping), next to the default mappings.
func BenchmarkCELMapping(b *testing.B) {
	claims := map[string]any{
		"iss": "https://idp.example.com", "sub": "alice@example.com", "aud": "s3fed",
		"groups": []any{"admins", "data-eng", "ml"}, "costcenter": "42", "iat": 1.7e9, "exp": 1.7e9 + 3600,
	}
	oidc := Input{Provider: "oidc", Issuer: "https://idp.example.com", Subject: "alice@example.com", Claims: claims}
	saml := Input{Provider: "saml", Issuer: "https://idp.example.com", Subject: "alice@example.com", Attributes: map[string][]string{
		"groups": {"admins", "data-eng"}, "role": {"reader"}, "department": {"research"}, CoreWeaveRoleAttribute: {"reader"},
	}}
	gcp := Spec{AttributeMapping: map[string]string{
		"google.subject": "assertion.sub", "google.groups": "assertion.groups", "attribute.costcenter": "assertion.costcenter",
	}}
	big := make([]any, MaxInputMembers)
	for i := range big {
		big[i] = "aaaa"
	}
	bigIn := Input{Provider: "oidc", Issuer: "https://idp.example.com", Subject: "s", Claims: map[string]any{"sub": "s", "groups": big}}
	for _, tc := range []struct {
		name string
		spec Spec
		in   Input
	}{
		{"GCPExample", gcp, oidc},
		{"GCPExampleWithCondition", Spec{AttributeMapping: gcp.AttributeMapping, AttributeCondition: "'admins' in google.groups && attribute.costcenter == '42'"}, oidc},
		{"SAMLExample", Spec{AttributeMapping: map[string]string{
			"google.subject": "assertion.subject", "google.groups": "assertion.attributes.groups",
			"role": "assertion.attributes.role[0]", "attribute.department": "assertion.attributes.department",
		}}, saml},
		{"DefaultOIDC", Spec{}, oidc},
		{"DefaultSAML", Spec{}, saml},
		// The largest loop the input limits allow.
		{"FilterOverMaxInputMembers", Spec{AttributeMapping: map[string]string{"subject": "assertion.sub", "groups": "assertion.groups.filter(g, g.startsWith('team-'))"}}, bigIn},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r, err := Compile(tc.spec)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Apply(ctx, tc.in, "org", "cfg"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
