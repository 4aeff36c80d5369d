package admin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/admin"
)

// jsonEndpoint is an admin endpoint that takes a JSON body, with one valid
// body, and per-endpoint wrong-type and missing-field bodies.
type jsonEndpoint struct {
	name, method, path string
	valid              string
	wrongType          map[string]string // field -> body
	missing            map[string]string // field -> body
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	e.createOrg("acme")
	tok, _ := e.orgToken("acme")
	cfg := e.createConfig("acme", tok, nil)
	key := e.seedKey("acme", cfg, "saml/alice", e.clk.Now().Add(time.Hour), false)
	cert := strings.ReplaceAll(e.cert(), "\n", `\n`)

	endpoints := []jsonEndpoint{
		{name: "create org", method: "POST", path: "/v1/admin/orgs", valid: `{"id":"neworg"}`,
			wrongType: map[string]string{"id": `{"id":5}`, "name": `{"id":"x","name":true}`},
			missing:   map[string]string{"id": `{"name":"x"}`}},
		{name: "create token", method: "POST", path: "/v1/admin/orgs/acme/tokens", valid: `{"description":"d"}`,
			wrongType: map[string]string{"description": `{"description":5}`}},
		{name: "create config", method: "POST", path: "/v1/admin/orgs/acme/workload-federation/saml",
			valid: `{"name":"n","idpEntityId":"urn:x","x509Certificate":"` + cert + `"}`,
			wrongType: map[string]string{
				"active":             `{"name":"n","idpEntityId":"urn:x","x509Certificate":"` + cert + `","active":"yes"}`,
				"maxDurationSeconds": `{"name":"n","idpEntityId":"urn:x","x509Certificate":"` + cert + `","maxDurationSeconds":"60"}`,
				"certificates":       `{"name":"n","idpEntityId":"urn:x","certificates":"` + cert + `"}`,
				"name":               `{"name":["n"],"idpEntityId":"urn:x","x509Certificate":"` + cert + `"}`,
			},
			missing: map[string]string{
				"name":            `{"idpEntityId":"urn:x","x509Certificate":"` + cert + `"}`,
				"idpEntityId":     `{"name":"n","x509Certificate":"` + cert + `"}`,
				"x509Certificate": `{"name":"n","idpEntityId":"urn:x"}`,
			}},
		{name: "patch config", method: "PATCH", path: "/v1/admin/orgs/acme/workload-federation/" + cfg, valid: `{"name":"patched"}`,
			wrongType: map[string]string{"active": `{"active":1}`, "idpEntityId": `{"idpEntityId":{}}`}},
		{name: "revoke key", method: "POST", path: "/v1/cwobject/revoke-access-key/access-key", valid: `{"accessKey":"` + key + `"}`,
			wrongType: map[string]string{"accessKey": `{"accessKey":5}`, "orgId": `{"accessKey":"` + key + `","orgId":[]}`},
			missing:   map[string]string{"accessKey": `{}`}},
		{name: "revoke principal", method: "POST", path: "/v1/cwobject/revoke-access-key/principal", valid: `{"principalName":"saml/alice"}`,
			wrongType: map[string]string{"principalName": `{"principalName":{}}`},
			missing:   map[string]string{"principalName": `{"orgId":"acme"}`}},
	}

	str := func(s string) *string { return &s }
	big := `{"description":"` + strings.Repeat("a", admin.MaxBodyBytes) + `"}`
	type tc struct {
		name   string
		req    request
		status int
		code   string
		has    []string
	}
	for _, ep := range endpoints {
		// Endpoints under /v1/admin/orgs that create orgs or tokens need root.
		token := tok
		if ep.name == "create org" || ep.name == "create token" {
			token = e.root
		}
		cases := []tc{
			{name: "syntax error", req: request{raw: str(`{"x":`)}, status: 400, code: "invalid_json"},
			{name: "not JSON", req: request{raw: str(`id=acme`)}, status: 400, code: "invalid_json"},
			{name: "empty body", req: request{raw: str(``)}, status: 400, code: "invalid_json"},
			{name: "array", req: request{raw: str(`[` + ep.valid + `]`)}, status: 400, code: "invalid_json"},
			{name: "null", req: request{raw: str(`null ` + ep.valid)}, status: 400, code: "invalid_json"},
			{name: "trailing object", req: request{raw: str(ep.valid + ep.valid)}, status: 400, code: "invalid_json"},
			{name: "trailing garbage", req: request{raw: str(ep.valid + ` ,`)}, status: 400, code: "invalid_json"},
			{name: "unknown field", req: request{raw: str(`{"bogusField":1}`)}, status: 400, code: "invalid_argument", has: []string{`"bogusField"`}},
			{name: "unknown field after valid ones", req: request{raw: str(strings.TrimSuffix(ep.valid, "}") + `,"zzz":true}`)}, status: 400, code: "invalid_argument", has: []string{`"zzz"`}},
			{name: "over 1 MiB", req: request{raw: &big}, status: 413, code: "payload_too_large"},
			{name: "over 1 MiB chunked", req: request{raw: &big, chunked: true}, status: 413, code: "payload_too_large"},
			{name: "over 1 MiB of whitespace after valid body, chunked", req: request{raw: str(ep.valid + strings.Repeat(" ", admin.MaxBodyBytes)), chunked: true}, status: 413, code: "payload_too_large"},
			{name: "text/plain", req: request{raw: &ep.valid, contentType: str("text/plain")}, status: 415, code: "unsupported_media_type"},
			{name: "form", req: request{raw: &ep.valid, contentType: str("application/x-www-form-urlencoded")}, status: 415, code: "unsupported_media_type"},
			{name: "no content type", req: request{raw: &ep.valid, contentType: str("")}, status: 415, code: "unsupported_media_type"},
			{name: "no token", req: request{raw: &ep.valid, authHeader: str("")}, status: 401, code: "unauthenticated"},
			{name: "bad token", req: request{raw: &ep.valid, authHeader: str("Bearer s3fed_wrong")}, status: 401, code: "unauthenticated"},
			{name: "no token and bad JSON", req: request{raw: str(`{`), authHeader: str("")}, status: 401, code: "unauthenticated"},
			{name: "no token and too large", req: request{raw: &big, authHeader: str("")}, status: 401, code: "unauthenticated"},
		}
		for field, body := range ep.wrongType {
			cases = append(cases, tc{name: "wrong type " + field, req: request{raw: str(body)}, status: 400, code: "invalid_argument", has: []string{`"` + field + `"`}})
		}
		for field, body := range ep.missing {
			cases = append(cases, tc{name: "missing " + field, req: request{raw: str(body)}, status: 400, code: "invalid_argument", has: []string{`"` + field + `"`}})
		}
		for _, c := range cases {
			t.Run(ep.name+"/"+c.name, func(t *testing.T) {
				before := e.snapshot()
				rq := c.req
				rq.method, rq.path, rq.token = ep.method, ep.path, token
				r := e.send(rq)
				isErr(t, r, c.status, c.code, c.has...)
				if after := e.snapshot(); after != before {
					t.Errorf("a refused request changed the state or the audit log")
				}
				if got := e.inv.take(); len(got) != 0 {
					t.Errorf("a refused request invalidated keys %v", got)
				}
			})
		}
	}

	t.Run("exactly 1 MiB is accepted", func(t *testing.T) {
		body := `{"id":"exact","name":"x"` // padded with whitespace to the limit
		body += strings.Repeat(" ", admin.MaxBodyBytes-len(body)-1) + "}"
		if len(body) != admin.MaxBodyBytes {
			t.Fatalf("body is %d bytes", len(body))
		}
		e.ok(e.send(request{method: "POST", path: "/v1/admin/orgs", token: e.root, raw: &body}), 201)
		e.ok(e.send(request{method: "POST", path: "/v1/admin/orgs/exact/tokens", token: e.root, raw: str(`{}` + strings.Repeat("\n", admin.MaxBodyBytes-2)), chunked: true}), 201)
	})
	t.Run("charset parameter is accepted", func(t *testing.T) {
		e.ok(e.send(request{method: "POST", path: "/v1/admin/orgs", token: e.root, raw: str(`{"id":"utf"}`), contentType: str("application/json; charset=utf-8")}), 201)
	})

	// Routes and methods, with and without a token: the router answers
	// before authentication, so these never reveal anything either way.
	routes := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/v1/admin/nope", 404, "not_found", ""},
		{"GET", "/v1/admin", 404, "not_found", ""},
		{"GET", "/v1/admin/orgs/acme/nope", 404, "not_found", ""},
		{"GET", "/v1/admin/orgs/acme/workload-federation/" + cfg + "/extra", 404, "not_found", ""},
		{"POST", "/v1/cwobject/nothing", 404, "not_found", ""},
		{"GET", "/nothing", 404, "not_found", ""},
		{"PUT", "/v1/admin/orgs", 405, "method_not_allowed", "GET, POST"},
		{"DELETE", "/v1/admin/orgs", 405, "method_not_allowed", "GET, POST"},
		{"DELETE", "/v1/admin/orgs/acme", 405, "method_not_allowed", "GET"},
		{"PATCH", "/v1/admin/orgs/acme/tokens", 405, "method_not_allowed", "GET, POST"},
		{"GET", "/v1/admin/orgs/acme/tokens/x", 405, "method_not_allowed", "DELETE"},
		{"PUT", "/v1/admin/orgs/acme/workload-federation/" + cfg, 405, "method_not_allowed", "DELETE, GET, PATCH, POST"},
		{"GET", "/v1/admin/orgs/acme/workload-federation/saml", 405, "method_not_allowed", "POST"},
		{"POST", "/v1/admin/orgs/acme/audit", 405, "method_not_allowed", "GET"},
		{"DELETE", "/v1/admin/orgs/acme/access-keys", 405, "method_not_allowed", "GET"},
		{"GET", "/v1/cwobject/revoke-access-key/access-key", 405, "method_not_allowed", "POST"},
		{"GET", "/v1/cwobject/revoke-access-key/principal", 405, "method_not_allowed", "POST"},
	}
	for _, rt := range routes {
		for _, withToken := range []bool{true, false} {
			name := rt.method + " " + rt.path
			if !withToken {
				name += " without token"
			}
			t.Run(name, func(t *testing.T) {
				before := e.snapshot()
				rq := request{method: rt.method, path: rt.path, raw: str(`{}`)}
				if withToken {
					rq.token = e.root
				}
				r := e.send(rq)
				isErr(t, r, rt.status, rt.code)
				if got := r.header.Get("Allow"); got != rt.allow {
					t.Errorf("Allow %q, want %q", got, rt.allow)
				}
				if e.snapshot() != before {
					t.Error("state changed")
				}
			})
		}
	}

	t.Run("duplicate org", func(t *testing.T) {
		before := e.snapshot()
		isErr(t, e.call("POST", "/v1/admin/orgs", e.root, map[string]any{"id": "acme", "name": "again"}), 409, "already_exists", `"acme"`)
		if e.snapshot() != before {
			t.Error("a refused duplicate changed the state")
		}
		if r := e.ok(e.call("GET", "/v1/admin/orgs/acme", e.root, nil), 200); r.str("name") != "Org acme" {
			t.Errorf("duplicate overwrote the org: %s", r.raw)
		}
	})
}
