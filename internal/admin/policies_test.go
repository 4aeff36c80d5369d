package admin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3fed/s3fed/internal/jsonapi"
	"github.com/s3fed/s3fed/internal/policy"
	"github.com/s3fed/s3fed/internal/store"
	"github.com/s3fed/s3fed/internal/store/sqlite"
)

// ptEnv is a policy-API test server with orgs acme and other, an org token
// for each, and the root token.
type ptEnv struct {
	t      *testing.T
	srv    *httptest.Server
	st     store.Store
	pol    *Policies
	tokens map[string]string // "root", "acme", "other"
}

func newPTEnv(t *testing.T) *ptEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &ptEnv{t: t, st: st, pol: &Policies{Set: &policy.Set{}}, tokens: map[string]string{}}
	err = st.Update(ctx, func(tx store.Tx) error {
		for _, who := range []string{"root", "acme", "other"} {
			tok := NewToken()
			e.tokens[who] = tok
			id, org := "t-"+who, who
			if who == "root" {
				id, org = store.RootTokenID, ""
			} else if err := tx.CreateOrg(ctx, store.Org{ID: who, Name: who}); err != nil {
				return err
			}
			if err := tx.PutToken(ctx, store.Token{ID: id, OrgID: org, Hash: HashToken(tok)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	a := &API{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Policies: e.pol, PublicURL: "https://s3fed.test"}
	rt := jsonapi.NewRouter()
	a.Register(rt)
	e.srv = httptest.NewServer(jsonapi.Middleware(a.Log, rt))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *ptEnv) do(who, method, path, body string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens[who])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &m); err != nil {
		e.t.Fatalf("%s %s: answer is not a JSON object: %q", method, path, raw)
	}
	return resp.StatusCode, m
}

const ptReader = `{"version": "v1alpha1", "name": "readers",
 "statements": [{"name": "object-reader-allow", "effect": "Allow", "actions": ["s3:Get*", "s3:List*"],
                 "resources": ["test-bucket", "test-bucket/*"], "principals": ["role/reader-role"]}]}`

func (e *ptEnv) decide(org, role, action, resource string) policy.Decision {
	return e.pol.Set.Decide(policy.Request{OrgID: org, Role: role, Action: action, Resource: resource})
}

func TestPolicyLifecycle(t *testing.T) {
	e := newPTEnv(t)
	if got := e.decide("acme", "reader-role", "s3:GetObject", "test-bucket/k"); got.Allowed() {
		t.Fatal("allowed before any policy")
	}
	if st, m := e.do("acme", "PUT", "/v1/admin/orgs/acme/access-policies/readers", ptReader); st != 201 {
		t.Fatalf("create: %d %v", st, m)
	}
	if st, _ := e.do("acme", "PUT", "/v1/admin/orgs/acme/access-policies/readers", ptReader); st != 200 {
		t.Fatalf("replace: %d", st)
	}
	if got := e.decide("acme", "reader-role", "s3:GetObject", "test-bucket/k"); !got.Allowed() {
		t.Fatalf("not in force after put: %+v", got)
	}
	if got := e.decide("other", "reader-role", "s3:GetObject", "test-bucket/k"); got.Allowed() {
		t.Fatal("acme's policy applies to org other")
	}
	st, m := e.do("acme", "POST", "/v1/admin/orgs/acme/access-policies:simulate",
		`{"role":"reader-role","action":"s3:ListBucket","resource":"test-bucket"}`)
	if st != 200 || m["decision"] != "Allow" || !strings.Contains(m["reason"].(string), "object-reader-allow") {
		t.Fatalf("simulate: %d %v", st, m)
	}
	if st, m := e.do("acme", "GET", "/v1/admin/orgs/acme/access-policies", ""); st != 200 || len(m["policies"].([]any)) != 1 {
		t.Fatalf("list: %d %v", st, m)
	}
	if st, m := e.do("acme", "GET", "/v1/admin/orgs/acme/access-policies/readers", ""); st != 200 || m["name"] != "readers" {
		t.Fatalf("get: %d %v", st, m)
	}
	if st, _ := e.do("acme", "DELETE", "/v1/admin/orgs/acme/access-policies/readers", ""); st != 200 {
		t.Fatalf("delete: %d", st)
	}
	if got := e.decide("acme", "reader-role", "s3:GetObject", "test-bucket/k"); got.Allowed() {
		t.Fatal("still allowed after delete")
	}
	evs, _ := e.st.ListEvents(context.Background(), store.EventFilter{OrgID: "acme"})
	if len(evs) != 3 || evs[0].Action != "policy.delete" || evs[2].Action != "policy.put" {
		t.Fatalf("audit: %+v", evs)
	}
}

func TestPolicyRefusedWriteKeepsPrevious(t *testing.T) {
	e := newPTEnv(t)
	if st, _ := e.do("acme", "PUT", "/v1/admin/orgs/acme/access-policies/readers", ptReader); st != 201 {
		t.Fatal("create failed")
	}
	bad := `{"version":"v2","name":"readers","statements":[{"name":"","effect":"allow","actions":[],"resources":["/x"],"principals":["role/*"]}]}`
	st, m := e.do("acme", "PUT", "/v1/admin/orgs/acme/access-policies/readers", bad)
	if st != 400 || m["code"] != "invalid_argument" {
		t.Fatalf("bad doc: %d %v", st, m)
	}
	if probs, _ := m["problems"].([]any); len(probs) < 5 {
		t.Fatalf("want every problem listed, got %v", m["problems"])
	}
	if got := e.decide("acme", "reader-role", "s3:GetObject", "test-bucket/k"); !got.Allowed() {
		t.Fatal("refused write dropped the previous policy")
	}
	_, m = e.do("acme", "GET", "/v1/admin/orgs/acme/access-policies/readers", "")
	if m["version"] != "v1alpha1" {
		t.Fatalf("stored document changed: %v", m)
	}
}

func TestPolicyRequests(t *testing.T) {
	e := newPTEnv(t)
	tests := []struct {
		name, who, method, path, body string
		status                        int
		code                          string
	}{
		{"name mismatch", "acme", "PUT", "/v1/admin/orgs/acme/access-policies/other-name", ptReader, 400, "invalid_argument"},
		{"not JSON", "acme", "PUT", "/v1/admin/orgs/acme/access-policies/readers", `{"version":`, 400, "invalid_json"},
		{"other org's policies", "acme", "PUT", "/v1/admin/orgs/other/access-policies/readers", ptReader, 404, "not_found"},
		{"other org's list", "acme", "GET", "/v1/admin/orgs/other/access-policies", "", 404, "not_found"},
		{"missing policy", "acme", "GET", "/v1/admin/orgs/acme/access-policies/nope", "", 404, "not_found"},
		{"delete missing", "acme", "DELETE", "/v1/admin/orgs/acme/access-policies/nope", "", 404, "not_found"},
		{"simulate without action", "acme", "POST", "/v1/admin/orgs/acme/access-policies:simulate", `{"resource":"*"}`, 400, "invalid_argument"},
		{"cwobject create", "acme", "POST", "/v1/cwobject/access-policy", `{"policy":` + ptReader + `}`, 200, ""},
		{"cwobject root needs orgId", "root", "POST", "/v1/cwobject/access-policy", `{"policy":` + ptReader + `}`, 400, "invalid_argument"},
		{"cwobject root with orgId", "root", "POST", "/v1/cwobject/access-policy", `{"orgId":"other","policy":` + ptReader + `}`, 200, ""},
		{"cwobject org token naming another org", "acme", "POST", "/v1/cwobject/access-policy", `{"orgId":"other","policy":` + ptReader + `}`, 404, "not_found"},
		{"cwobject without policy", "acme", "POST", "/v1/cwobject/access-policy", `{}`, 400, "invalid_argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, m := e.do(tc.who, tc.method, tc.path, tc.body)
			if st != tc.status || (tc.code != "" && m["code"] != tc.code) {
				t.Fatalf("got %d %v, want %d %s", st, m, tc.status, tc.code)
			}
		})
	}
}

// TestPoliciesLoadAll checks policies survive a restart (recompiled from the store).
func TestPoliciesLoadAll(t *testing.T) {
	e := newPTEnv(t)
	if st, _ := e.do("acme", "PUT", "/v1/admin/orgs/acme/access-policies/readers", ptReader); st != 201 {
		t.Fatal("create failed")
	}
	fresh := &Policies{Set: &policy.Set{}}
	if err := fresh.LoadAll(context.Background(), e.st); err != nil {
		t.Fatal(err)
	}
	if !fresh.Set.Decide(policy.Request{OrgID: "acme", Role: "reader-role", Action: "s3:GetObject", Resource: "test-bucket/k"}).Allowed() {
		t.Fatal("policy not reloaded")
	}
}

// TestSPMetadata checks the SP metadata an IdP imports names the org's
// audience and the ACS URL, and is hidden from other orgs.
func TestSPMetadata(t *testing.T) {
	e := newPTEnv(t)
	ctx := context.Background()
	if err := e.st.Update(ctx, func(tx store.Tx) error {
		return tx.CreateConfig(ctx, store.Config{OrgID: "acme", ID: "c1", Kind: "saml", Name: "c1", IdPEntityID: "idp", Active: true})
	}); err != nil {
		t.Fatal(err)
	}
	get := func(who string) (int, string, string) {
		req, _ := http.NewRequest("GET", e.srv.URL+"/v1/admin/orgs/acme/workload-federation/c1/sp-metadata", nil)
		req.Header.Set("Authorization", "Bearer "+e.tokens[who])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	st, ct, body := get("acme")
	if st != 200 || ct != "application/samlmetadata+xml" {
		t.Fatalf("status %d, type %q", st, ct)
	}
	for _, want := range []string{`entityID="https://s3fed.test/accounts/saml/acme/metadata/"`, `Location="https://s3fed.test/m2m-saml-acs"`,
		`WantAssertionsSigned="true"`, `urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST`} {
		if !strings.Contains(body, want) {
			t.Errorf("metadata lacks %s:\n%s", want, body)
		}
	}
	if st, _, _ := get("other"); st != 404 {
		t.Fatalf("other org reads acme's SP metadata: %d", st)
	}
}
