package admin_test

import (
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/admin"
	"github.com/s3fed/s3fed/internal/store"
)

func TestOrgs(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		body   any
		status int
		code   string
		has    string
		wantID string
		wantNm string
	}{
		{name: "create", body: map[string]any{"id": "acme", "name": "Acme Corp"}, status: 201, wantID: "acme", wantNm: "Acme Corp"},
		{name: "name defaults to id", body: map[string]any{"id": "beta"}, status: 201, wantID: "beta", wantNm: "beta"},
		{name: "one character", body: map[string]any{"id": "a"}, status: 201, wantID: "a", wantNm: "a"},
		{name: "63 characters", body: map[string]any{"id": strings.Repeat("x", 63)}, status: 201, wantID: strings.Repeat("x", 63)},
		{name: "dashes inside", body: map[string]any{"id": "a-b-9"}, status: 201, wantID: "a-b-9"},
		{name: "256-byte name", body: map[string]any{"id": "n256", "name": strings.Repeat("é", 128)}, status: 201, wantID: "n256"},
		{name: "duplicate", body: map[string]any{"id": "acme", "name": "Other"}, status: 409, code: "already_exists", has: `"acme"`},
		{name: "64 characters", body: map[string]any{"id": strings.Repeat("x", 64)}, status: 400, code: "invalid_argument", has: `"id"`},
		{name: "uppercase", body: map[string]any{"id": "Acme"}, status: 400, code: "invalid_argument", has: `"id"`},
		{name: "leading dash", body: map[string]any{"id": "-a"}, status: 400, code: "invalid_argument", has: `"id"`},
		{name: "trailing dash", body: map[string]any{"id": "a-"}, status: 400, code: "invalid_argument", has: `"id"`},
		{name: "slash", body: map[string]any{"id": "a/b"}, status: 400, code: "invalid_argument", has: `"id"`},
		{name: "empty id", body: map[string]any{"id": ""}, status: 400, code: "invalid_argument", has: `"id"`},
		{name: "missing id", body: map[string]any{"name": "x"}, status: 400, code: "invalid_argument", has: `"id" is required`},
		{name: "null id", body: map[string]any{"id": nil}, status: 400, code: "invalid_argument", has: `"id" is required`},
		{name: "empty name", body: map[string]any{"id": "c", "name": ""}, status: 400, code: "invalid_argument", has: `"name"`},
		{name: "257-byte name", body: map[string]any{"id": "c", "name": strings.Repeat("n", 257)}, status: 400, code: "invalid_argument", has: `"name"`},
		{name: "control character in name", body: map[string]any{"id": "c", "name": "a\nb"}, status: 400, code: "invalid_argument", has: "control"},
		{name: "id wrong type", body: map[string]any{"id": 5}, status: 400, code: "invalid_argument", has: `"id"`},
		{name: "unknown field", body: map[string]any{"id": "c", "owner": "x"}, status: 400, code: "invalid_argument", has: `"owner"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.snapshot()
			r := e.call("POST", "/v1/admin/orgs", e.root, tt.body)
			if tt.status != 201 {
				isErr(t, r, tt.status, tt.code, tt.has)
				if e.snapshot() != before {
					t.Error("a refused create changed the state")
				}
				return
			}
			e.ok(r, 201)
			if r.str("id") != tt.wantID || (tt.wantNm != "" && r.str("name") != tt.wantNm) || r.str("created") == "" {
				t.Errorf("answer %s", r.raw)
			}
			if len(r.body) != 3 {
				t.Errorf("org has unexpected members: %s", r.raw)
			}
			evs := e.events(tt.wantID)
			if len(evs) != 1 {
				t.Fatalf("%d audit events, want 1", len(evs))
			}
			ev := evs[0]
			if ev.Action != "org.create" || ev.Actor != store.RootTokenID || ev.OrgID != tt.wantID || ev.Target != tt.wantID ||
				ev.Outcome != "success" || ev.Kind != "admin" || ev.RequestID != r.header.Get("X-Request-Id") || ev.ClientIP != "127.0.0.1" {
				t.Errorf("audit event %+v", ev)
			}
		})
	}

	t.Run("list", func(t *testing.T) {
		r := e.ok(e.call("GET", "/v1/admin/orgs", e.root, nil), 200)
		var ids []string
		for _, o := range r.list("orgs") {
			ids = append(ids, o["id"].(string))
		}
		want := []string{"a", "a-b-9", "acme", "beta", "n256", strings.Repeat("x", 63)}
		if !slices.Equal(ids, want) {
			t.Errorf("orgs %v, want %v", ids, want)
		}
	})
	t.Run("get", func(t *testing.T) {
		r := e.ok(e.call("GET", "/v1/admin/orgs/acme", e.root, nil), 200)
		if r.str("id") != "acme" || r.str("name") != "Acme Corp" {
			t.Errorf("get: %s", r.raw)
		}
		isErr(t, e.call("GET", "/v1/admin/orgs/nope", e.root, nil), 404, "not_found", `"nope"`)
	})
	t.Run("empty list is an array", func(t *testing.T) {
		e2 := newEnv(t)
		r := e2.ok(e2.call("GET", "/v1/admin/orgs", e2.root, nil), 200)
		if !strings.Contains(string(r.raw), `"orgs": []`) {
			t.Errorf("empty list: %s", r.raw)
		}
	})
}

// TestConcurrentCreate: of racing creates of one org exactly one wins and
// exactly one audit event is written.
func TestConcurrentCreate(t *testing.T) {
	e := newEnv(t)
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.call("POST", "/v1/admin/orgs", e.root, map[string]any{"id": "race"}).status
		}()
	}
	wg.Wait()
	slices.Sort(statuses)
	if statuses[0] != 201 || statuses[1] != 409 || statuses[n-1] != 409 {
		t.Errorf("statuses %v, want one 201 and the rest 409", statuses)
	}
	if evs := e.events("race"); len(evs) != 1 {
		t.Errorf("%d audit events, want 1", len(evs))
	}
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	e.createOrg("acme")
	e.createOrg("beta")

	r := e.ok(e.call("POST", "/v1/admin/orgs/acme/tokens", e.root, map[string]any{"description": "ci pipeline"}), 201)
	secret, id := r.str("token"), r.str("id")
	if !strings.HasPrefix(secret, admin.TokenPrefix) || len(secret) < 40 || !strings.HasPrefix(id, "tok-") || r.str("orgId") != "acme" || r.str("description") != "ci pipeline" {
		t.Fatalf("create: %s", r.raw)
	}
	// The token works inside its org.
	e.ok(e.call("GET", "/v1/admin/orgs/acme", secret, nil), 200)
	// {} is fine (description optional).
	e.clk.add(time.Second)
	second := e.ok(e.call("POST", "/v1/admin/orgs/acme/tokens", e.root, map[string]any{}), 201)

	t.Run("list never shows secrets", func(t *testing.T) {
		r := e.ok(e.call("GET", "/v1/admin/orgs/acme/tokens", e.root, nil), 200)
		toks := r.list("tokens")
		if len(toks) != 2 || toks[0]["id"] != id || toks[0]["description"] != "ci pipeline" || toks[1]["id"] != second.str("id") {
			t.Errorf("tokens: %s", r.raw)
		}
		hash := admin.HashToken(secret)
		if strings.Contains(string(r.raw), secret) || strings.Contains(string(r.raw), hash) || strings.Contains(string(r.raw), "hash") {
			t.Errorf("token list leaks a secret or hash: %s", r.raw)
		}
		// The root token is not an org token.
		if strings.Contains(string(r.raw), `"root"`) {
			t.Errorf("root token listed: %s", r.raw)
		}
		// An org token may list its own org's tokens.
		e.ok(e.call("GET", "/v1/admin/orgs/acme/tokens", secret, nil), 200)
		if r := e.ok(e.call("GET", "/v1/admin/orgs/beta/tokens", e.root, nil), 200); len(r.list("tokens")) != 0 {
			t.Errorf("beta lists acme's tokens: %s", r.raw)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		before := e.snapshot()
		isErr(t, e.call("POST", "/v1/admin/orgs/nope/tokens", e.root, map[string]any{}), 404, "not_found")
		isErr(t, e.call("POST", "/v1/admin/orgs/acme/tokens", secret, map[string]any{}), 403, "permission_denied", "root")
		isErr(t, e.call("DELETE", "/v1/admin/orgs/acme/tokens/"+second.str("id"), secret, nil), 403, "permission_denied")
		isErr(t, e.call("DELETE", "/v1/admin/orgs/acme/tokens/tok-nope", e.root, nil), 404, "not_found")
		isErr(t, e.call("DELETE", "/v1/admin/orgs/beta/tokens/"+id, e.root, nil), 404, "not_found")
		isErr(t, e.call("DELETE", "/v1/admin/orgs/acme/tokens/root", e.root, nil), 404, "not_found")
		isErr(t, e.call("POST", "/v1/admin/orgs/acme/tokens", e.root, map[string]any{"description": strings.Repeat("d", 1025)}), 400, "invalid_argument", `"description"`)
		isErr(t, e.call("POST", "/v1/admin/orgs/acme/tokens", e.root, map[string]any{"description": "a\x00b"}), 400, "invalid_argument", `"description"`)
		if e.snapshot() != before {
			t.Error("refused token calls changed the state")
		}
	})

	t.Run("revoke", func(t *testing.T) {
		r := e.ok(e.call("DELETE", "/v1/admin/orgs/acme/tokens/"+id, e.root, nil), 200)
		if string(r.raw) != "{}\n" {
			t.Errorf("revoke answer %q", r.raw)
		}
		isErr(t, e.call("GET", "/v1/admin/orgs/acme", secret, nil), 401, "unauthenticated")
		isErr(t, e.call("DELETE", "/v1/admin/orgs/acme/tokens/"+id, e.root, nil), 404, "not_found")
		if r := e.ok(e.call("GET", "/v1/admin/orgs/acme/tokens", e.root, nil), 200); len(r.list("tokens")) != 1 {
			t.Errorf("after revoke: %s", r.raw)
		}
	})

	t.Run("audit", func(t *testing.T) {
		var got []string
		for _, ev := range e.events("acme") {
			got = append(got, ev.Action+" "+ev.Target+" "+ev.Actor+" "+ev.Outcome)
		}
		want := []string{"token.revoke " + id + " root success", "token.create " + second.str("id") + " root success",
			"token.create " + id + " root success", "org.create acme root success"}
		if !slices.Equal(got, want) {
			t.Errorf("audit\n got %q\nwant %q", got, want)
		}
	})
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	e.createOrg("acme")
	tok, _ := e.orgToken("acme")
	str := func(s string) *string { return &s }
	tests := []struct {
		name   string
		header *string
		status int
	}{
		{"bearer", str("Bearer " + e.root), 200},
		{"lowercase scheme", str("bearer " + e.root), 200},
		{"extra spaces", str("Bearer   " + e.root + "  "), 200},
		{"org token", str("Bearer " + tok), 200},
		{"no header", str(""), 401},
		{"scheme only", str("Bearer"), 401},
		{"scheme and space", str("Bearer "), 401},
		{"basic", str("Basic " + e.root), 401},
		{"raw token", str(e.root), 401},
		{"wrong token", str("Bearer s3fed_nope"), 401},
		{"token with suffix", str("Bearer " + e.root + "x"), 401},
		{"token prefix", str("Bearer " + e.root[:len(e.root)-1]), 401},
		{"hash as token", str("Bearer " + admin.HashToken(e.root)), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.send(request{method: "GET", path: "/v1/admin/orgs", authHeader: tt.header})
			if tt.status == 200 {
				e.ok(r, 200)
				return
			}
			isErr(t, r, 401, "unauthenticated")
			if strings.Contains(string(r.raw), e.root) {
				t.Error("401 echoes the token")
			}
		})
	}
}

var configIDRe = regexp.MustCompile(`^[a-z2-7]{26}$`)

func TestSAMLConfigCreate(t *testing.T) {
	e := newEnv(t)
	e.createOrg("acme")
	tok, tokID := e.orgToken("acme")
	now := e.clk.Now()
	c1, c2 := e.cert(), e.cert()
	expired := certFor(t, ecPub(t, elliptic.P256()), now.Add(-48*time.Hour), now.Add(-time.Hour))
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(edKeyForPEM())
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	base := func(kv ...any) map[string]any {
		m := map[string]any{"name": "okta", "idpEntityId": "http://www.okta.com/exk1", "x509Certificate": c1}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	del := struct{}{}
	_ = del
	tests := []struct {
		name   string
		body   map[string]any
		status int
		has    []string
		check  func(t *testing.T, r resp)
	}{
		{name: "x509Certificate", body: base("description", "prod okta"), status: 201, check: func(t *testing.T, r resp) {
			if !configIDRe.MatchString(r.str("configId")) {
				t.Errorf("configId %q is not 26 URL-safe random characters", r.str("configId"))
			}
			if r.str("orgId") != "acme" || r.str("kind") != "saml" || r.str("name") != "okta" || r.str("idpEntityId") != "http://www.okta.com/exk1" ||
				r.str("description") != "prod okta" || r.body["active"] != true || r.body["maxDurationSeconds"] != float64(43200) {
				t.Errorf("fields: %s", r.raw)
			}
			if r.str("acsUrl") != publicURL+"/m2m-saml-acs" || r.str("audience") != publicURL+"/accounts/saml/acme/metadata/" {
				t.Errorf("SP URLs: %s %s", r.str("acsUrl"), r.str("audience"))
			}
			certs, _ := r.body["certificates"].([]any)
			if len(certs) != 1 || strings.TrimSpace(certs[0].(string)) != strings.TrimSpace(c1) {
				t.Errorf("certificates: %v", certs)
			}
			info := r.list("certificateInfo")
			if len(info) != 1 || info[0]["keyType"] != "ECDSA-P-256" || info[0]["expired"] != false || len(info[0]["sha256"].(string)) != 64 {
				t.Errorf("certificateInfo: %v", info)
			}
			if r.str("created") == "" || r.str("updated") == "" {
				t.Errorf("times: %s", r.raw)
			}
		}},
		{name: "certificates list", body: base("x509Certificate", nil, "certificates", []string{c1, c2}), status: 201, check: func(t *testing.T, r resp) {
			if len(r.list("certificateInfo")) != 2 {
				t.Errorf("certificateInfo: %s", r.raw)
			}
		}},
		{name: "one expired one valid", body: base("x509Certificate", nil, "certificates", []string{expired, c2}), status: 201, check: func(t *testing.T, r resp) {
			info := r.list("certificateInfo")
			if len(info) != 2 || info[0]["expired"] != true || info[1]["expired"] != false {
				t.Errorf("certificateInfo: %v", info)
			}
		}},
		{name: "RSA 2048", body: base("x509Certificate", certFor(t, rsaPub(t, 2048), now.Add(-time.Hour), now.Add(time.Hour))), status: 201},
		{name: "P-384", body: base("x509Certificate", certFor(t, ecPub(t, elliptic.P384()), now.Add(-time.Hour), now.Add(time.Hour))), status: 201},
		{name: "inactive with max duration", body: base("active", false, "maxDurationSeconds", 900), status: 201, check: func(t *testing.T, r resp) {
			if r.body["active"] != false || r.body["maxDurationSeconds"] != float64(900) {
				t.Errorf("fields: %s", r.raw)
			}
		}},
		{name: "max duration bounds", body: base("maxDurationSeconds", 1), status: 201},
		{name: "max duration 43200", body: base("maxDurationSeconds", 43200), status: 201},

		{name: "neither certificate form", body: base("x509Certificate", nil), status: 400, has: []string{`"x509Certificate"`, `"certificates"`, "required"}},
		{name: "both certificate forms", body: base("certificates", []string{c2}), status: 400, has: []string{"exactly one", `"x509Certificate"`, `"certificates"`}},
		{name: "empty certificates", body: base("x509Certificate", nil, "certificates", []string{}), status: 400, has: []string{"certificates", "at least one"}},
		{name: "four certificates", body: base("x509Certificate", nil, "certificates", []string{c1, c2, e.cert(), e.cert()}), status: 400, has: []string{"certificates", "at most 3"}},
		{name: "RSA 1024", body: base("x509Certificate", certFor(t, rsaPub(t, 1024), now.Add(-time.Hour), now.Add(time.Hour))), status: 400, has: []string{"x509Certificate", "1024 bits"}},
		{name: "RSA 16384", body: base("x509Certificate", certFor(t, rsaPub(t, 16384), now.Add(-time.Hour), now.Add(time.Hour))), status: 400, has: []string{"x509Certificate", "16384 bits"}},
		{name: "P-521", body: base("x509Certificate", certFor(t, ecPub(t, elliptic.P521()), now.Add(-time.Hour), now.Add(time.Hour))), status: 400, has: []string{"x509Certificate", "P-256 or P-384"}},
		{name: "Ed25519", body: base("x509Certificate", certFor(t, edPub, now.Add(-time.Hour), now.Add(time.Hour))), status: 400, has: []string{"x509Certificate", "not allowed"}},
		{name: "expired only", body: base("x509Certificate", expired), status: 400, has: []string{"x509Certificate", "expired"}},
		{name: "notBefore 8 days ahead", body: base("x509Certificate", certFor(t, ecPub(t, elliptic.P256()), now.Add(8*24*time.Hour), now.Add(30*24*time.Hour))), status: 400, has: []string{"x509Certificate", "notBefore"}},
		{name: "notAfter 15 years ahead", body: base("x509Certificate", certFor(t, ecPub(t, elliptic.P256()), now.Add(-time.Hour), now.AddDate(15, 0, 0))), status: 400, has: []string{"x509Certificate", "notAfter"}},
		{name: "private key", body: base("x509Certificate", keyPEM), status: 400, has: []string{"x509Certificate", "private key"}},
		{name: "two PEMs in one entry", body: base("x509Certificate", c1+c2), status: 400, has: []string{"x509Certificate", "exactly one certificate"}},
		{name: "duplicate certificate", body: base("x509Certificate", nil, "certificates", []string{c1, c1}), status: 400, has: []string{"certificates[1]", "duplicate"}},
		{name: "bad second certificate", body: base("x509Certificate", nil, "certificates", []string{c1, "junk"}), status: 400, has: []string{"certificates[1]", "PEM"}},
		{name: "attributeMapping", body: base("attributeMapping", map[string]any{"role": "'x'"}), status: 400, has: []string{`"attributeMapping"`, "not supported yet"}},
		{name: "attributeCondition", body: base("attributeCondition", "true"), status: 400, has: []string{`"attributeCondition"`, "not supported yet"}},
		{name: "requireEncryptedAssertions false", body: base("requireEncryptedAssertions", false), status: 400, has: []string{`"requireEncryptedAssertions"`, "not supported yet"}},
		{name: "missing name", body: base("name", nil), status: 400, has: []string{`"name" is required`}},
		{name: "empty name", body: base("name", ""), status: 400, has: []string{`"name"`}},
		{name: "missing idpEntityId", body: base("idpEntityId", nil), status: 400, has: []string{`"idpEntityId" is required`}},
		{name: "idpEntityId with spaces", body: base("idpEntityId", " x "), status: 400, has: []string{`"idpEntityId"`, "spaces"}},
		{name: "idpEntityId too long", body: base("idpEntityId", strings.Repeat("e", 1025)), status: 400, has: []string{`"idpEntityId"`}},
		{name: "description too long", body: base("description", strings.Repeat("d", 1025)), status: 400, has: []string{`"description"`}},
		{name: "max duration 0", body: base("maxDurationSeconds", 0), status: 400, has: []string{`"maxDurationSeconds"`}},
		{name: "max duration 43201", body: base("maxDurationSeconds", 43201), status: 400, has: []string{`"maxDurationSeconds"`}},
		{name: "active wrong type", body: base("active", "yes"), status: 400, has: []string{`"active"`}},
		{name: "certificates wrong type", body: base("x509Certificate", nil, "certificates", c1), status: 400, has: []string{`"certificates"`}},
		{name: "max duration wrong type", body: base("maxDurationSeconds", "600"), status: 400, has: []string{`"maxDurationSeconds"`}},
		{name: "unknown field", body: base("issuer", "x"), status: 400, has: []string{`"issuer"`}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.snapshot()
			r := e.call("POST", "/v1/admin/orgs/acme/workload-federation/saml", tok, tt.body)
			if tt.status != 201 {
				isErr(t, r, tt.status, "invalid_argument", tt.has...)
				if e.snapshot() != before {
					t.Error("a refused create changed the state")
				}
				return
			}
			e.ok(r, 201)
			id := r.str("configId")
			if seen[id] {
				t.Errorf("config ID %s repeated", id)
			}
			seen[id] = true
			if tt.check != nil {
				tt.check(t, r)
			}
			ev := e.events("acme")[0]
			if ev.Action != "config.create" || ev.Target != id || ev.Actor != tokID || ev.OrgID != "acme" || ev.Outcome != "success" {
				t.Errorf("audit event %+v", ev)
			}
			// What was answered is what is stored.
			g := e.ok(e.call("GET", "/v1/admin/orgs/acme/workload-federation/"+id, tok, nil), 200)
			if string(g.raw) != string(r.raw) {
				t.Errorf("GET differs from the create answer:\n%s\n%s", g.raw, r.raw)
			}
		})
	}
}

// edKeyForPEM is any private key, to upload by mistake.
func edKeyForPEM() ed25519.PrivateKey {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	return k
}

func TestSAMLConfigLifecycle(t *testing.T) {
	e := newEnv(t)
	e.createOrg("acme")
	tok, _ := e.orgToken("acme")
	base := "/v1/admin/orgs/acme/workload-federation"
	id1 := e.createConfig("acme", tok, map[string]any{"name": "first"})
	e.clk.add(time.Second)
	id2 := e.createConfig("acme", e.root, map[string]any{"name": "second"})

	t.Run("list", func(t *testing.T) {
		r := e.ok(e.call("GET", base, tok, nil), 200)
		cs := r.list("configs")
		if len(cs) != 2 || cs[0]["configId"] != id1 || cs[1]["configId"] != id2 || cs[0]["name"] != "first" || cs[0]["acsUrl"] == nil {
			t.Errorf("configs: %s", r.raw)
		}
	})

	newCert := e.cert()
	patches := []struct {
		name  string
		body  map[string]any
		check func(t *testing.T, c resp)
	}{
		{"name", map[string]any{"name": "renamed"}, func(t *testing.T, c resp) {
			if c.str("name") != "renamed" {
				t.Error(c.str("name"))
			}
		}},
		{"idpEntityId", map[string]any{"idpEntityId": "urn:new:idp"}, func(t *testing.T, c resp) {
			if c.str("idpEntityId") != "urn:new:idp" {
				t.Error(c.str("idpEntityId"))
			}
		}},
		{"description", map[string]any{"description": "now described"}, func(t *testing.T, c resp) {
			if c.str("description") != "now described" {
				t.Error(c.str("description"))
			}
		}},
		{"description cleared", map[string]any{"description": ""}, func(t *testing.T, c resp) {
			if c.str("description") != "" {
				t.Error(c.str("description"))
			}
		}},
		{"maxDurationSeconds", map[string]any{"maxDurationSeconds": 1800}, func(t *testing.T, c resp) {
			if c.body["maxDurationSeconds"] != float64(1800) {
				t.Error(c.body["maxDurationSeconds"])
			}
		}},
		{"deactivate", map[string]any{"active": false}, func(t *testing.T, c resp) {
			if c.body["active"] != false {
				t.Error(c.body["active"])
			}
		}},
		{"reactivate", map[string]any{"active": true}, func(t *testing.T, c resp) {
			if c.body["active"] != true {
				t.Error(c.body["active"])
			}
		}},
		{"certificates", map[string]any{"certificates": []string{newCert, e.cert()}}, func(t *testing.T, c resp) {
			if len(c.list("certificateInfo")) != 2 || !strings.Contains(string(c.raw), strings.Split(newCert, "\n")[1]) {
				t.Errorf("certificates not replaced: %s", c.raw)
			}
		}},
		{"x509Certificate", map[string]any{"x509Certificate": newCert}, func(t *testing.T, c resp) {
			if len(c.list("certificateInfo")) != 1 {
				t.Errorf("certificates not replaced: %s", c.raw)
			}
		}},
		{"several at once", map[string]any{"name": "multi", "active": false, "maxDurationSeconds": 60}, func(t *testing.T, c resp) {
			if c.str("name") != "multi" || c.body["active"] != false || c.body["maxDurationSeconds"] != float64(60) {
				t.Errorf("%s", c.raw)
			}
		}},
		{"empty patch changes nothing", map[string]any{}, func(t *testing.T, c resp) {
			if c.str("name") != "multi" || c.body["active"] != false {
				t.Errorf("%s", c.raw)
			}
		}},
	}
	for _, p := range patches {
		t.Run("patch "+p.name, func(t *testing.T) {
			prev := e.ok(e.call("GET", base+"/"+id1, tok, nil), 200)
			e.clk.add(time.Second)
			r := e.ok(e.call("PATCH", base+"/"+id1, tok, p.body), 200)
			p.check(t, r)
			g := e.ok(e.call("GET", base+"/"+id1, tok, nil), 200)
			if string(g.raw) != string(r.raw) {
				t.Errorf("GET differs from PATCH answer")
			}
			if r.str("updated") == prev.str("updated") || r.str("created") != prev.str("created") || r.str("configId") != id1 {
				t.Errorf("updated %s (was %s), created %s (was %s)", r.str("updated"), prev.str("updated"), r.str("created"), prev.str("created"))
			}
			// Untouched fields stay.
			for k, v := range prev.body {
				if _, patched := p.body[k]; patched || k == "updated" || k == "certificateInfo" || k == "certificates" {
					continue
				}
				if fmt.Sprint(r.body[k]) != fmt.Sprint(v) {
					t.Errorf("field %s changed from %v to %v", k, v, r.body[k])
				}
			}
			ev := e.events("acme")[0]
			if ev.Action != "config.update" || ev.Target != id1 {
				t.Errorf("audit event %+v", ev)
			}
			// The other config is untouched.
			if o := e.ok(e.call("GET", base+"/"+id2, tok, nil), 200); o.str("name") != "second" {
				t.Errorf("other config changed: %s", o.raw)
			}
		})
	}

	badPatches := []struct {
		name string
		body map[string]any
		has  string
	}{
		{"empty name", map[string]any{"name": ""}, `"name"`},
		{"max duration 0", map[string]any{"maxDurationSeconds": 0}, `"maxDurationSeconds"`},
		{"both certificate forms", map[string]any{"x509Certificate": newCert, "certificates": []string{newCert}}, "exactly one"},
		{"empty certificates", map[string]any{"certificates": []string{}}, "at least one"},
		{"bad certificate", map[string]any{"certificates": []string{newCert, "junk"}}, "certificates[1]"},
		{"valid name with bad certificate", map[string]any{"name": "ok", "x509Certificate": "junk"}, "x509Certificate"},
		{"attributeMapping", map[string]any{"attributeMapping": map[string]any{}}, "not supported yet"},
		{"attributeCondition", map[string]any{"attributeCondition": "x"}, "not supported yet"},
		{"requireEncryptedAssertions", map[string]any{"requireEncryptedAssertions": true}, "not supported yet"},
		{"unknown field", map[string]any{"kind": "oidc"}, `"kind"`},
		{"active wrong type", map[string]any{"active": 1}, `"active"`},
		{"certificates element wrong type", map[string]any{"certificates": []any{1}}, `certificates`},
		{"name with control character", map[string]any{"name": "a\tb"}, `"name"`},
	}
	for _, p := range badPatches {
		t.Run("bad patch "+p.name, func(t *testing.T) {
			before := e.snapshot()
			isErr(t, e.call("PATCH", base+"/"+id1, tok, p.body), 400, "invalid_argument", p.has)
			if e.snapshot() != before {
				t.Error("a refused patch changed the state")
			}
		})
	}
	t.Run("missing config", func(t *testing.T) {
		isErr(t, e.call("PATCH", base+"/nope", tok, map[string]any{"name": "x"}), 404, "not_found")
		isErr(t, e.call("GET", base+"/nope", tok, nil), 404, "not_found")
		isErr(t, e.call("DELETE", base+"/nope", tok, nil), 404, "not_found")
		isErr(t, e.call("POST", base+"/nope:revoke-keys", tok, nil), 404, "not_found")
	})

	t.Run("revoke-keys", func(t *testing.T) {
		exp := e.clk.Now().Add(time.Hour)
		k1 := e.seedKey("acme", id1, "saml/alice", exp, false)
		k2 := e.seedKey("acme", id1, "saml/bob", exp, false)
		e.seedKey("acme", id1, "saml/carol", exp, true)
		other := e.seedKey("acme", id2, "saml/alice", exp, false)
		r := e.ok(e.call("POST", base+"/"+id1+":revoke-keys", tok, nil), 200)
		if r.body["revoked"] != float64(2) {
			t.Errorf("revoked: %s", r.raw)
		}
		want := []string{k1, k2}
		slices.Sort(want)
		if got := e.inv.take(); !slices.Equal(got, want) {
			t.Errorf("invalidated %v, want %v", got, want)
		}
		keys := e.ok(e.call("GET", "/v1/admin/orgs/acme/access-keys?status=ACTIVE", tok, nil), 200).list("accessKeys")
		if len(keys) != 1 || keys[0]["accessKeyId"] != other {
			t.Errorf("active keys after revoke-keys: %v", keys)
		}
		ev := e.events("acme")[0]
		if ev.Action != "access-key.revoke" || ev.Target != "config:"+id1 || ev.Details["revoked"] != float64(2) {
			t.Errorf("audit event %+v", ev)
		}
		// Again: nothing left to revoke; the config itself stays.
		if r := e.ok(e.call("POST", base+"/"+id1+":revoke-keys", tok, nil), 200); r.body["revoked"] != float64(0) {
			t.Errorf("second revoke-keys: %s", r.raw)
		}
		e.ok(e.call("GET", base+"/"+id1, tok, nil), 200)
	})

	t.Run("unknown action and bare POST", func(t *testing.T) {
		before := e.snapshot()
		isErr(t, e.call("POST", base+"/"+id1+":explode", tok, nil), 404, "not_found")
		r := e.call("POST", base+"/"+id1, tok, map[string]any{})
		isErr(t, r, 405, "method_not_allowed")
		if r.header.Get("Allow") == "" {
			t.Error("405 without an Allow header")
		}
		isErr(t, e.call("POST", base+"/"+id1+":test", tok, map[string]any{}), 404, "not_found")
		if e.snapshot() != before {
			t.Error("state changed")
		}
	})

	t.Run("delete revokes the config's keys", func(t *testing.T) {
		exp := e.clk.Now().Add(time.Hour)
		k := e.seedKey("acme", id2, "saml/dave", exp, false)
		otherCfg := e.seedKey("acme", id1, "saml/dave", exp, false)
		e.inv.take()
		r := e.ok(e.call("DELETE", base+"/"+id2, tok, nil), 200)
		// The alice key of id2 from the previous subtest and dave's.
		if r.body["revoked"] != float64(2) {
			t.Errorf("delete answer: %s", r.raw)
		}
		if got := e.inv.take(); len(got) != 2 || !slices.Contains(got, k) {
			t.Errorf("invalidated %v", got)
		}
		isErr(t, e.call("GET", base+"/"+id2, tok, nil), 404, "not_found")
		isErr(t, e.call("DELETE", base+"/"+id2, tok, nil), 404, "not_found")
		keys := e.ok(e.call("GET", "/v1/admin/orgs/acme/access-keys?configId="+id2, tok, nil), 200).list("accessKeys")
		for _, key := range keys {
			if key["status"] != "REVOKED" {
				t.Errorf("key of a deleted config is %v", key["status"])
			}
		}
		if len(keys) != 2 {
			t.Errorf("%d keys of the deleted config still listed, want 2 (kept as REVOKED)", len(keys))
		}
		active := e.ok(e.call("GET", "/v1/admin/orgs/acme/access-keys?status=ACTIVE", tok, nil), 200).list("accessKeys")
		if len(active) != 1 || active[0]["accessKeyId"] != otherCfg {
			t.Errorf("other config's keys affected: %v", active)
		}
		ev := e.events("acme")[0]
		if ev.Action != "config.delete" || ev.Target != id2 || ev.Details["revokedKeys"] != float64(2) {
			t.Errorf("audit event %+v", ev)
		}
		if r := e.ok(e.call("GET", base, tok, nil), 200); len(r.list("configs")) != 1 {
			t.Errorf("list after delete: %s", r.raw)
		}
	})
}

func TestAccessKeys(t *testing.T) {
	e := newEnv(t)
	e.createOrg("acme")
	e.createOrg("beta")
	tok, tokID := e.orgToken("acme")
	cfg := e.createConfig("acme", tok, nil)
	now := e.clk.Now()
	active := e.seedKey("acme", cfg, "saml/alice", now.Add(time.Hour), false)
	expired := e.seedKey("acme", cfg, "saml/alice", now.Add(-time.Second), false)
	atNow := e.seedKey("acme", cfg, "saml/bob", now, false) // expiry == now is expired
	revoked := e.seedKey("acme", cfg, "saml/bob", now.Add(time.Hour), true)
	bob := e.seedKey("acme", cfg, "saml/bob", now.Add(time.Hour), false)
	betaKey := e.seedKey("beta", "x", "saml/alice", now.Add(time.Hour), false)

	list := func(t *testing.T, q string) []string {
		t.Helper()
		r := e.ok(e.call("GET", "/v1/admin/orgs/acme/access-keys"+q, tok, nil), 200)
		var ids []string
		for _, k := range r.list("accessKeys") {
			ids = append(ids, k["accessKeyId"].(string))
		}
		slices.Sort(ids)
		return ids
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	tests := []struct {
		q    string
		want []string
	}{
		{"", sorted(active, expired, atNow, revoked, bob)},
		{"?status=ACTIVE", sorted(active, bob)},
		{"?status=EXPIRED", sorted(expired, atNow)},
		{"?status=REVOKED", sorted(revoked)},
		{"?principalName=saml/alice", sorted(active, expired)},
		{"?principalName=saml/bob&status=ACTIVE", sorted(bob)},
		{"?principalName=saml/nobody", nil},
		{"?configId=" + cfg, sorted(active, expired, atNow, revoked, bob)},
		{"?configId=other", nil},
	}
	for _, tt := range tests {
		t.Run("list"+tt.q, func(t *testing.T) {
			if got := list(t, tt.q); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("row shape", func(t *testing.T) {
		r := e.ok(e.call("GET", "/v1/admin/orgs/acme/access-keys?principalName=saml/alice&status=ACTIVE", tok, nil), 200)
		k := r.list("accessKeys")[0]
		want := map[string]any{"accessKeyId": active, "principalName": "saml/alice", "role": "reader", "configId": cfg, "status": "ACTIVE",
			"expiry": now.Add(time.Hour).Format("2006-01-02T15:04:05Z"), "attributes": map[string]any{"team": "data"}}
		for f, v := range want {
			if fmt.Sprint(k[f]) != fmt.Sprint(v) {
				t.Errorf("%s = %v, want %v", f, k[f], v)
			}
		}
		s, _ := e.kr.Secret(active)
		if strings.Contains(string(r.raw), s) || strings.Contains(strings.ToLower(string(r.raw)), "secret") {
			t.Errorf("inventory leaks a secret: %s", r.raw)
		}
	})
	t.Run("status follows the clock", func(t *testing.T) {
		e.clk.add(time.Hour)
		defer e.clk.add(-time.Hour)
		if got := list(t, "?status=ACTIVE"); len(got) != 0 {
			t.Errorf("an hour later still active: %v", got)
		}
	})
	t.Run("bad query", func(t *testing.T) {
		isErr(t, e.call("GET", "/v1/admin/orgs/acme/access-keys?status=active", tok, nil), 400, "invalid_argument", `"status"`)
		isErr(t, e.call("GET", "/v1/admin/orgs/acme/access-keys?limit=0", tok, nil), 400, "invalid_argument", `"limit"`)
		isErr(t, e.call("GET", "/v1/admin/orgs/acme/access-keys?limit=x", tok, nil), 400, "invalid_argument", `"limit"`)
		if got := list(t, "?limit=2"); len(got) != 2 {
			t.Errorf("limit=2 gave %d", len(got))
		}
	})

	rk := "/v1/cwobject/revoke-access-key/access-key"
	rp := "/v1/cwobject/revoke-access-key/principal"
	t.Run("revoke by key", func(t *testing.T) {
		e.inv.take()
		r := e.ok(e.call("POST", rk, tok, map[string]any{"accessKey": active}), 200)
		if string(r.raw) != "{}\n" {
			t.Errorf("answer %q", r.raw)
		}
		if got := e.inv.take(); !slices.Equal(got, []string{active}) {
			t.Errorf("invalidated %v", got)
		}
		if got := list(t, "?status=REVOKED"); !slices.Equal(got, sorted(active, revoked)) {
			t.Errorf("revoked keys %v", got)
		}
		ev := e.events("acme")[0]
		if ev.Action != "access-key.revoke" || ev.AccessKeyID != active || ev.Actor != tokID || ev.Target != "access-key:"+active || ev.OrgID != "acme" || ev.Outcome != "success" {
			t.Errorf("audit event %+v", ev)
		}
	})
	t.Run("revoke refusals", func(t *testing.T) {
		before := e.snapshot()
		isErr(t, e.call("POST", rk, tok, map[string]any{"accessKey": betaKey}), 404, "not_found")
		isErr(t, e.call("POST", rk, tok, map[string]any{"accessKey": betaKey, "orgId": "beta"}), 404, "not_found")
		isErr(t, e.call("POST", rk, tok, map[string]any{"accessKey": "SFEDAAAAAAAAAAAAAAAAAAAAAAAA"}), 404, "not_found")
		isErr(t, e.call("POST", rk, tok, map[string]any{}), 400, "invalid_argument", `"accessKey"`)
		isErr(t, e.call("POST", rk, e.root, map[string]any{"accessKey": bob}), 400, "invalid_argument", `"orgId"`)
		isErr(t, e.call("POST", rk, e.root, map[string]any{"accessKey": bob, "orgId": "beta"}), 404, "not_found")
		isErr(t, e.call("POST", rk, e.root, map[string]any{"accessKey": bob, "orgId": "nope"}), 404, "not_found")
		isErr(t, e.call("POST", rp, tok, map[string]any{}), 400, "invalid_argument", `"principalName"`)
		isErr(t, e.call("POST", rp, e.root, map[string]any{"principalName": "saml/bob"}), 400, "invalid_argument", `"orgId"`)
		isErr(t, e.call("POST", rp, tok, map[string]any{"principalName": "saml/bob", "orgId": "beta"}), 404, "not_found")
		if e.snapshot() != before {
			t.Error("refused revocations changed the state")
		}
		if got := e.inv.take(); len(got) != 0 {
			t.Errorf("refused revocations invalidated %v", got)
		}
	})
	t.Run("root revokes by key with orgId", func(t *testing.T) {
		e.ok(e.call("POST", rk, e.root, map[string]any{"accessKey": bob, "orgId": "acme"}), 200)
		if got := e.inv.take(); !slices.Equal(got, []string{bob}) {
			t.Errorf("invalidated %v", got)
		}
		if ev := e.events("acme")[0]; ev.Actor != store.RootTokenID || ev.AccessKeyID != bob {
			t.Errorf("audit event %+v", ev)
		}
	})
	t.Run("revoke by principal", func(t *testing.T) {
		a2 := e.seedKey("acme", cfg, "saml/alice", now.Add(time.Hour), false)
		a3 := e.seedKey("acme", cfg, "saml/alice", now.Add(2*time.Hour), false)
		b2 := e.seedKey("acme", cfg, "saml/bob", now.Add(time.Hour), false)
		e.ok(e.call("POST", rp, tok, map[string]any{"principalName": "saml/alice"}), 200)
		// Expired keys are revoked too: they must never come back.
		if got := e.inv.take(); !slices.Equal(got, sorted(a2, a3, expired)) {
			t.Errorf("invalidated %v, want %v", got, sorted(a2, a3, expired))
		}
		if got := list(t, "?status=ACTIVE"); !slices.Equal(got, []string{b2}) {
			t.Errorf("active %v, want only bob's", got)
		}
		ev := e.events("acme")[0]
		if ev.Action != "access-key.revoke" || ev.PrincipalName != "saml/alice" || ev.Target != "principal:saml/alice" || ev.Details["revoked"] != float64(3) {
			t.Errorf("audit event %+v", ev)
		}
		// Root with orgId; beta's alice is untouched throughout.
		e.ok(e.call("POST", rp, e.root, map[string]any{"principalName": "saml/bob", "orgId": "acme"}), 200)
		if got := list(t, "?status=ACTIVE"); len(got) != 0 {
			t.Errorf("active after revoking bob: %v", got)
		}
		bk, _ := e.st.GetAccessKey(t.Context(), betaKey)
		if bk.Revoked {
			t.Error("beta's key was revoked")
		}
	})
}

func TestAudit(t *testing.T) {
	e := newEnv(t)
	e.createOrg("acme")
	e.createOrg("beta")
	tok, tokID := e.orgToken("acme")
	start := e.clk.Now()
	// Twelve changes one second apart, alternating actors and principals.
	var reqIDs []string
	for i := range 6 {
		e.clk.add(time.Second)
		r := e.ok(e.call("POST", "/v1/admin/orgs/acme/workload-federation/saml", tok, map[string]any{
			"name": fmt.Sprintf("cfg%d", i), "idpEntityId": "urn:idp", "x509Certificate": e.cert()}), 201)
		reqIDs = append(reqIDs, r.header.Get("X-Request-Id"))
		e.clk.add(time.Second)
		r = e.ok(e.call("POST", "/v1/cwobject/revoke-access-key/principal", e.root, map[string]any{"principalName": fmt.Sprintf("saml/u%d", i%2), "orgId": "acme"}), 200)
		reqIDs = append(reqIDs, r.header.Get("X-Request-Id"))
	}
	e.createConfig("beta", e.root, nil)
	path := "/v1/admin/orgs/acme/audit"

	all := e.ok(e.call("GET", path, tok, nil), 200).list("events")
	// org.create, token.create and the twelve above.
	if len(all) != 14 {
		t.Fatalf("%d events, want 14", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i-1]["id"].(float64) <= all[i]["id"].(float64) {
			t.Fatalf("events not newest first at %d", i)
		}
	}
	for i, ev := range all[:12] {
		n := 11 - i // all[0] is the last change
		wantActor, wantAction := tokID, "config.create"
		if n%2 == 1 {
			wantActor, wantAction = store.RootTokenID, "access-key.revoke"
		}
		if ev["actor"] != wantActor || ev["action"] != wantAction || ev["orgId"] != "acme" || ev["outcome"] != "success" ||
			ev["kind"] != "admin" || ev["requestId"] != reqIDs[n] || ev["target"] == nil || ev["time"] == nil {
			t.Errorf("event %d: %v", n, ev)
		}
	}
	if all[13]["action"] != "org.create" || all[12]["action"] != "token.create" {
		t.Errorf("oldest events: %v %v", all[13], all[12])
	}

	t.Run("pagination", func(t *testing.T) {
		var got []any
		before := ""
		pages := 0
		for {
			q := "?limit=5"
			if before != "" {
				q += "&before=" + before
			}
			r := e.ok(e.call("GET", path+q, tok, nil), 200)
			evs := r.list("events")
			if len(evs) > 5 {
				t.Fatalf("page of %d", len(evs))
			}
			for _, ev := range evs {
				got = append(got, ev["id"])
			}
			pages++
			nb, ok := r.body["nextBefore"].(float64)
			if !ok {
				break
			}
			before = fmt.Sprint(int64(nb))
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
		}
		var want []any
		for _, ev := range all {
			want = append(want, ev["id"])
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("paged %v\nwant %v", got, want)
		}
		if pages != 3 && pages != 4 {
			t.Errorf("%d pages for 14 events of 5", pages)
		}
	})
	t.Run("since", func(t *testing.T) {
		since := start.Add(9 * time.Second).Format(time.RFC3339)
		evs := e.ok(e.call("GET", path+"?since="+url.QueryEscape(since), tok, nil), 200).list("events")
		// Changes at start+9s .. start+12s.
		if len(evs) != 4 {
			t.Errorf("since %s: %d events, want 4", since, len(evs))
		}
		for _, ev := range evs {
			tm, _ := time.Parse(time.RFC3339Nano, ev["time"].(string))
			if tm.Before(start.Add(9 * time.Second)) {
				t.Errorf("event at %v before since", tm)
			}
		}
		nano := start.Add(9*time.Second + time.Nanosecond).Format(time.RFC3339Nano)
		if evs := e.ok(e.call("GET", path+"?since="+url.QueryEscape(nano), tok, nil), 200).list("events"); len(evs) != 3 {
			t.Errorf("since %s: %d events, want 3", nano, len(evs))
		}
	})
	t.Run("principalName", func(t *testing.T) {
		evs := e.ok(e.call("GET", path+"?principalName=saml/u1", tok, nil), 200).list("events")
		if len(evs) != 3 {
			t.Errorf("%d events of saml/u1, want 3", len(evs))
		}
		for _, ev := range evs {
			if ev["principalName"] != "saml/u1" {
				t.Errorf("event %v", ev)
			}
		}
		evs = e.ok(e.call("GET", path+"?principalName=saml/u0&limit=2", tok, nil), 200).list("events")
		if len(evs) != 2 {
			t.Errorf("limit with principal: %d", len(evs))
		}
	})
	t.Run("limit", func(t *testing.T) {
		r := e.ok(e.call("GET", path+"?limit=1", tok, nil), 200)
		if evs := r.list("events"); len(evs) != 1 || evs[0]["id"] != all[0]["id"] || r.body["nextBefore"] != all[0]["id"] {
			t.Errorf("limit=1: %s", r.raw)
		}
		if r := e.ok(e.call("GET", path+"?limit=1000", tok, nil), 200); len(r.list("events")) != 14 || r.body["nextBefore"] != nil {
			t.Errorf("limit=1000: %d events, nextBefore %v", len(r.list("events")), r.body["nextBefore"])
		}
	})
	t.Run("org scoped", func(t *testing.T) {
		evs := e.ok(e.call("GET", "/v1/admin/orgs/beta/audit", e.root, nil), 200).list("events")
		if len(evs) != 2 || evs[0]["action"] != "config.create" || evs[0]["orgId"] != "beta" {
			t.Errorf("beta audit: %v", evs)
		}
	})
	t.Run("bad query", func(t *testing.T) {
		for _, q := range []string{"since=yesterday", "since=2026-01-02", "limit=0", "limit=1001", "limit=-1", "limit=1e3", "limit=01", "before=0", "before=x"} {
			field := strings.SplitN(q, "=", 2)[0]
			isErr(t, e.call("GET", path+"?"+q, tok, nil), 400, "invalid_argument", `"`+field+`"`)
		}
	})
}

// TestOddPathIDs: IDs from the path are echoed quoted and truncated, never
// raw or whole, in error messages.
func TestOddPathIDs(t *testing.T) {
	e := newEnv(t)
	e.createOrg("acme")
	long := strings.Repeat("a", 5000)
	tests := []struct{ name, path, notHas string }{
		{"long org", "/v1/admin/orgs/" + long, long[:100]},
		{"long config", "/v1/admin/orgs/acme/workload-federation/" + long, long[:100]},
		{"newline in org", "/v1/admin/orgs/a%0Ab", "a\nb"},
		{"quote in config", "/v1/admin/orgs/acme/workload-federation/x%22y", `x"y`},
		{"escape in org", "/v1/admin/orgs/%1B%5B31m", "\x1b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call("GET", tt.path, e.root, nil)
			isErr(t, r, 404, "not_found")
			if len(r.str("message")) > 200 || strings.Contains(r.str("message"), tt.notHas) {
				t.Errorf("message echoes the ID raw or whole: %q", r.str("message"))
			}
		})
	}
}
