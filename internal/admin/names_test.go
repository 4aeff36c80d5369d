package admin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/s3fed/s3fed/internal/store"
)

// TestSpoofableNamesRefused checks that a name an admin gives (a principal
// to revoke, a principal, role or group to simulate, a policy principal) is
// held to identity.CheckName: a bidi control or invisible character would
// make it look like another name in the audit log (issue 9 defect 9). Each
// refusal is 400 invalid_argument naming the field and the byte offset, and
// changes nothing.
func TestSpoofableNamesRefused(t *testing.T) {
	e := newPTEnv(t)
	ctx := context.Background()
	policyWith := func(principal string) string {
		b, _ := json.Marshal(map[string]any{"version": "v1alpha1", "name": "p", "statements": []any{map[string]any{
			"name": "s", "effect": "Allow", "actions": []string{"s3:GetObject"}, "resources": []string{"b/*"}, "principals": []string{principal}}}})
		return string(b)
	}
	body := func(m map[string]any) string { b, _ := json.Marshal(m); return string(b) }
	sim := func(extra map[string]any) string {
		m := map[string]any{"action": "s3:GetObject", "resource": "b/k"}
		for k, v := range extra {
			m[k] = v
		}
		return body(m)
	}
	cases := []struct {
		name, method, path, body string
		want                     []string
	}{
		{"revoke principal RLO", "POST", "/v1/cwobject/revoke-access-key/principal", body(map[string]any{"principalName": "saml/alice\u202Ex"}),
			[]string{`"principalName"`, "byte 10: U+202E RIGHT-TO-LEFT OVERRIDE"}},
		{"revoke principal zero width", "POST", "/v1/cwobject/revoke-access-key/principal", body(map[string]any{"principalName": "saml/\u200Balice"}),
			[]string{"byte 5: U+200B ZERO WIDTH SPACE"}},
		{"simulate principal isolate", "POST", "/v1/admin/orgs/acme/access-policies:simulate", sim(map[string]any{"principalName": "saml/bob\u2066"}),
			[]string{`"principalName"`, "byte 8: U+2066 LEFT-TO-RIGHT ISOLATE"}},
		{"simulate role BOM", "POST", "/v1/admin/orgs/acme/access-policies:simulate", sim(map[string]any{"role": "\uFEFFadmin"}),
			[]string{`"role"`, "byte 0: U+FEFF ZERO WIDTH NO-BREAK SPACE"}},
		{"simulate group line separator", "POST", "/v1/admin/orgs/acme/access-policies:simulate", sim(map[string]any{"groups": []string{"ok", "a\u2028b"}}),
			[]string{`"groups[1]"`, "byte 1: U+2028 LINE SEPARATOR"}},
		{"policy principal RLO", "PUT", "/v1/admin/orgs/acme/access-policies/p", policyWith("role/nimda\u202E"),
			[]string{"principals[0]", "byte 10: U+202E RIGHT-TO-LEFT OVERRIDE"}},
		{"policy principal name zero width joiner", "PUT", "/v1/admin/orgs/acme/access-policies/p", policyWith("saml/a\u200Db"),
			[]string{"principals[0]", "byte 6: U+200D ZERO WIDTH JOINER"}},
		{"policy group no-break space", "PUT", "/v1/admin/orgs/acme/access-policies/p", policyWith("group/data\u00A0team"),
			[]string{"byte 10: U+00A0 NO-BREAK SPACE"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, err := e.st.ListEvents(ctx, store.EventFilter{OrgID: "acme", Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			st, m := e.do("acme", c.method, c.path, c.body)
			msg, _ := m["message"].(string)
			if st != 400 || m["code"] != "invalid_argument" {
				t.Fatalf("%d %v, want 400 invalid_argument", st, m)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not contain %q", msg, w)
				}
			}
			after, _ := e.st.ListEvents(ctx, store.EventFilter{OrgID: "acme", Limit: 1000})
			if len(after) != len(before) {
				t.Errorf("a refused request wrote %d audit events", len(after)-len(before))
			}
			if ps, _ := e.st.ListPolicies(ctx, "acme"); len(ps) != 0 {
				t.Errorf("a refused policy was stored: %+v", ps)
			}
		})
	}

	// Ordinary names, non-ASCII included, still work.
	if st, m := e.do("acme", "POST", "/v1/cwobject/revoke-access-key/principal", body(map[string]any{"principalName": "saml/zoë@例え.jp"})); st != 200 {
		t.Fatalf("revoke a non-ASCII principal: %d %v", st, m)
	}
	if st, m := e.do("acme", "POST", "/v1/admin/orgs/acme/access-policies:simulate", sim(map[string]any{"principalName": "saml/Alice Smith", "role": "reader", "groups": []string{"données"}})); st != 200 {
		t.Fatalf("simulate: %d %v", st, m)
	}
	if st, m := e.do("acme", "PUT", "/v1/admin/orgs/acme/access-policies/p", policyWith("group/données")); st != 201 && st != 200 {
		t.Fatalf("policy with a non-ASCII group: %d %v", st, m)
	}
}
