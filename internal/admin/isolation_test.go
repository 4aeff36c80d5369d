package admin_test

import (
	"strings"
	"testing"
	"time"
)

// TestCrossOrgIsolation: an org token never reads or changes another org.
// Another org's resources answer exactly like missing ones (404), root-only
// endpoints answer 403, and nothing of the other org changes.
func TestCrossOrgIsolation(t *testing.T) {
	e := newEnv(t)
	e.createOrg("orga")
	e.createOrg("orgb")
	tokA, tokAID := e.orgToken("orga")
	tokB, tokBID := e.orgToken("orgb")
	cfgA := e.createConfig("orga", tokA, nil)
	cfgB := e.createConfig("orgb", tokB, nil)
	exp := e.clk.Now().Add(time.Hour)
	e.seedKey("orga", cfgA, "saml/alice", exp, false)
	keyB := e.seedKey("orgb", cfgB, "saml/alice", exp, false)
	e.seedKey("orgb", cfgB, "saml/bob", exp, false)
	e.inv.take()

	b := "/v1/admin/orgs/orgb"
	wf := "/workload-federation/"
	patch := map[string]any{"name": "pwned", "active": false}
	cases := []struct {
		name, method, path string
		body               any
		status             int
		// ghost is the same request against a missing org or config; its
		// answer must match this one's, so existence is not revealed.
		ghost string
	}{
		{"get org", "GET", b, nil, 404, "/v1/admin/orgs/orgz"},
		{"list tokens", "GET", b + "/tokens", nil, 404, "/v1/admin/orgs/orgz/tokens"},
		{"list configs", "GET", b + "/workload-federation", nil, 404, "/v1/admin/orgs/orgz/workload-federation"},
		{"create config", "POST", b + wf + "saml", map[string]any{"name": "x", "idpEntityId": "y", "x509Certificate": e.cert()}, 404, "/v1/admin/orgs/orgz" + wf + "saml"},
		{"get config", "GET", b + wf + cfgB, nil, 404, b + wf + "zzzzzzzzzzzzzzzzzzzzzzzzzz"},
		{"patch config", "PATCH", b + wf + cfgB, patch, 404, b + wf + "zzzzzzzzzzzzzzzzzzzzzzzzzz"},
		{"delete config", "DELETE", b + wf + cfgB, nil, 404, b + wf + "zzzzzzzzzzzzzzzzzzzzzzzzzz"},
		{"revoke config keys", "POST", b + wf + cfgB + ":revoke-keys", nil, 404, b + wf + "zzzzzzzzzzzzzzzzzzzzzzzzzz:revoke-keys"},
		{"B's config under A's path", "GET", "/v1/admin/orgs/orga" + wf + cfgB, nil, 404, "/v1/admin/orgs/orga" + wf + "zzzzzzzzzzzzzzzzzzzzzzzzzz"},
		{"patch B's config under A's path", "PATCH", "/v1/admin/orgs/orga" + wf + cfgB, patch, 404, ""},
		{"delete B's config under A's path", "DELETE", "/v1/admin/orgs/orga" + wf + cfgB, nil, 404, ""},
		{"revoke B's config keys under A's path", "POST", "/v1/admin/orgs/orga" + wf + cfgB + ":revoke-keys", nil, 404, ""},
		{"access keys", "GET", b + "/access-keys", nil, 404, "/v1/admin/orgs/orgz/access-keys"},
		{"access keys filtered", "GET", b + "/access-keys?status=ACTIVE", nil, 404, ""},
		{"audit", "GET", b + "/audit", nil, 404, "/v1/admin/orgs/orgz/audit"},
		{"revoke B's key", "POST", "/v1/cwobject/revoke-access-key/access-key", map[string]any{"accessKey": keyB}, 404, ""},
		{"revoke B's key naming B", "POST", "/v1/cwobject/revoke-access-key/access-key", map[string]any{"accessKey": keyB, "orgId": "orgb"}, 404, ""},
		{"revoke B's principal naming B", "POST", "/v1/cwobject/revoke-access-key/principal", map[string]any{"principalName": "saml/alice", "orgId": "orgb"}, 404, ""},
		{"create org", "POST", "/v1/admin/orgs", map[string]any{"id": "orgc"}, 403, ""},
		{"create token in B", "POST", b + "/tokens", map[string]any{}, 403, ""},
		{"create token in own org", "POST", "/v1/admin/orgs/orga/tokens", map[string]any{}, 403, ""},
		{"revoke B's token", "DELETE", b + "/tokens/" + tokBID, nil, 403, ""},
		{"revoke own token", "DELETE", "/v1/admin/orgs/orga/tokens/" + tokAID, nil, 403, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.snapshot()
			r := e.call(c.method, c.path, tokA, c.body)
			if c.status == 404 {
				isErr(t, r, 404, "not_found")
			} else {
				isErr(t, r, 403, "permission_denied")
			}
			if strings.Contains(string(r.raw), cfgB) && c.ghost == "" && !strings.Contains(c.path, cfgB) {
				t.Errorf("answer reveals B's config: %s", r.raw)
			}
			if c.ghost != "" {
				g := e.call(c.method, c.ghost, tokA, c.body)
				norm := func(s string) string {
					for _, x := range []string{cfgB, "zzzzzzzzzzzzzzzzzzzzzzzzzz", "orgb", "orgz"} {
						s = strings.ReplaceAll(s, x, "X")
					}
					return s
				}
				if g.status != r.status || norm(g.str("message")) != norm(r.str("message")) || g.str("code") != r.str("code") {
					t.Errorf("answer differs from a missing resource's:\n%s\n%s", r.raw, g.raw)
				}
			}
			if e.snapshot() != before {
				t.Error("state changed")
			}
			if got := e.inv.take(); len(got) != 0 {
				t.Errorf("keys invalidated: %v", got)
			}
		})
	}

	t.Run("org list shows only own org", func(t *testing.T) {
		r := e.ok(e.call("GET", "/v1/admin/orgs", tokA, nil), 200)
		orgs := r.list("orgs")
		if len(orgs) != 1 || orgs[0]["id"] != "orga" || strings.Contains(string(r.raw), "orgb") {
			t.Errorf("org token sees %s", r.raw)
		}
	})
	t.Run("own-org revocation by principal does not reach B", func(t *testing.T) {
		e.ok(e.call("POST", "/v1/cwobject/revoke-access-key/principal", tokA, map[string]any{"principalName": "saml/alice"}), 200)
		k, err := e.st.GetAccessKey(t.Context(), keyB)
		if err != nil || k.Revoked {
			t.Errorf("B's alice key revoked by A: %v", err)
		}
		if evs := e.events("orgb"); evs[0].Actor == tokAID {
			t.Errorf("A's action logged in B: %+v", evs[0])
		}
	})
	t.Run("B is intact and usable", func(t *testing.T) {
		c := e.ok(e.call("GET", b+wf+cfgB, tokB, nil), 200)
		if c.str("name") != "idp" || c.body["active"] != true {
			t.Errorf("B's config changed: %s", c.raw)
		}
		if keys := e.ok(e.call("GET", b+"/access-keys?status=ACTIVE", tokB, nil), 200).list("accessKeys"); len(keys) != 2 {
			t.Errorf("B has %d active keys, want 2", len(keys))
		}
		for _, ev := range e.events("orgb") {
			if ev.Actor == tokAID {
				t.Errorf("B's audit log has A's action %+v", ev)
			}
		}
		// B's token is equally fenced off from A.
		isErr(t, e.call("GET", "/v1/admin/orgs/orga"+wf+cfgA, tokB, nil), 404, "not_found")
	})
}
