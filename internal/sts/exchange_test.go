package sts_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/s3fed/s3fed/internal/admin"
	"github.com/s3fed/s3fed/internal/creds"
	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/jsonapi"
	"github.com/s3fed/s3fed/internal/store"
	"github.com/s3fed/s3fed/internal/store/teststore"
	"github.com/s3fed/s3fed/internal/sts"
)

// env is one server with one org ("acme"), one active SAML config trusting
// kp, and a second org ("other") with its own config trusting the same key.
type env struct {
	t        testing.TB
	srv      *httptest.Server
	st       store.Store
	keys     *creds.Keyring
	kp       *idp.KeyPair
	cfgID    string
	otherCfg string
	inactive string
	now      time.Time
	public   string
	svc      *sts.Service
}

// failingReplay wraps a store whose replay cache is down.
type failingReplay struct{ store.Store }

func (failingReplay) ClaimReplay(context.Context, string, time.Time, time.Time) error {
	return errors.New("database is locked")
}

// newEnv builds the env on a fresh store of backend b.
func newEnv(t testing.TB, b teststore.Backend, replayDown bool) *env {
	t.Helper()
	ctx := context.Background()
	st := b.Open(t)
	certPEM, keyPEM, err := idp.Keygen(idp.KeygenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := idp.ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, kp: kp, now: time.Now().UTC().Truncate(time.Second), public: "https://s3fed.example.com",
		keys: &creds.Keyring{Current: 1, Keys: map[uint16][]byte{1: bytes.Repeat([]byte{7}, 32)}}}
	mk := func(org, id string, active bool, maxDur int) {
		t.Helper()
		err := st.Update(ctx, func(tx store.Tx) error {
			if _, err := tx.GetOrg(ctx, org); errors.Is(err, store.ErrNotFound) {
				if err := tx.CreateOrg(ctx, store.Org{ID: org, Name: org, Created: e.now}); err != nil {
					return err
				}
			}
			return tx.CreateConfig(ctx, store.Config{OrgID: org, ID: id, Kind: "saml", Name: id, IdPEntityID: idp.DefaultCommonName,
				Certificates: []string{string(certPEM)}, MaxDurationSeconds: maxDur, Active: active, Created: e.now})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	e.cfgID, e.otherCfg, e.inactive = "cfg1", "cfg-other", "cfg-off"
	mk("acme", e.cfgID, true, 7200)
	mk("acme", e.inactive, false, 7200)
	mk("other", e.otherCfg, true, 7200)

	var sst store.Store = st
	if replayDown {
		sst = failingReplay{st}
	}
	svc := &sts.Service{Store: sst, Keys: e.keys, PublicURL: e.public, Skew: 60 * time.Second,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return e.now }}
	e.svc = svc
	rt := jsonapi.NewRouter()
	svc.Register(rt)
	e.srv = httptest.NewServer(jsonapi.Middleware(slog.New(slog.NewTextHandler(io.Discard, nil)), rt))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) sign(mod func(*idp.SignOptions)) string {
	e.t.Helper()
	o := idp.SignOptions{KeyPair: e.kp, OrgID: "acme", Principal: "alice@example.com", Role: "reader-role",
		PublicURL: e.public, Now: func() time.Time { return e.now }}
	if mod != nil {
		mod(&o)
	}
	s, err := idp.SignBase64(o)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

type answer struct {
	status int
	body   map[string]any
}

func (e *env) post(body any) answer {
	e.t.Helper()
	var data []byte
	switch b := body.(type) {
	case []byte:
		data = b
	default:
		data, _ = json.Marshal(b)
	}
	resp, err := http.Post(e.srv.URL+"/v1/cwobject/temporary-credentials/saml", "application/json", bytes.NewReader(data))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &m); err != nil {
		e.t.Fatalf("answer is not JSON: %q", raw)
	}
	return answer{resp.StatusCode, m}
}

func (e *env) keyCount() int {
	e.t.Helper()
	n := 0
	for _, org := range []string{"acme", "other"} {
		ks, err := e.st.ListAccessKeys(context.Background(), store.AccessKeyFilter{OrgID: org})
		if err != nil {
			e.t.Fatal(err)
		}
		n += len(ks)
	}
	return n
}

func TestExchangeSuccess(t *testing.T) { teststore.Each(t, testExchangeSuccess) }

func testExchangeSuccess(t *testing.T, b teststore.Backend) {
	e := newEnv(t, b, false)
	a := e.post(map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": e.sign(nil), "durationSeconds": 900,
		"attributes": map[string]string{"team": "ml"}})
	if a.status != 200 {
		t.Fatalf("status %d: %v", a.status, a.body)
	}
	akid, _ := a.body["accessKeyId"].(string)
	if !creds.WellFormed(akid) {
		t.Fatalf("access key id %q", akid)
	}
	want, _ := e.keys.Secret(akid)
	if a.body["secretKey"] != want {
		t.Fatal("secret is not the derived secret")
	}
	if a.body["principalName"] != "saml/alice@example.com" || a.body["role"] != "reader-role" {
		t.Fatalf("identity: %v", a.body)
	}
	if a.body["expiry"] != e.now.Add(900*time.Second).Format("2006-01-02T15:04:05Z") {
		t.Fatalf("expiry %v", a.body["expiry"])
	}
	if tags, _ := a.body["attributes"].(map[string]any); tags["team"] != "ml" {
		t.Fatalf("attributes not echoed: %v", a.body["attributes"])
	}
	k, err := e.st.GetAccessKey(context.Background(), akid)
	if err != nil || k.OrgID != "acme" || k.ConfigID != e.cfgID || k.Tags["team"] != "ml" || k.Role != "reader-role" {
		t.Fatalf("stored claims: %+v %v", k, err)
	}
	// The store holds claims only: no field carries the secret.
	raw, _ := json.Marshal(k)
	if strings.Contains(string(raw), want) {
		t.Fatal("secret stored")
	}
	evs, _ := e.st.ListEvents(context.Background(), store.EventFilter{OrgID: "acme"})
	if len(evs) != 1 || evs[0].Outcome != "success" || evs[0].PrincipalName != "saml/alice@example.com" || evs[0].AccessKeyID != akid {
		t.Fatalf("audit: %+v", evs)
	}
}

func TestExchangeDuration(t *testing.T) { teststore.Each(t, testExchangeDuration) }

func testExchangeDuration(t *testing.T, b teststore.Backend) {
	e := newEnv(t, b, false)
	tests := []struct {
		name    string
		dur     any
		session time.Duration
		want    time.Duration
	}{
		{"omitted means one hour", nil, 0, time.Hour},
		{"clamped to the config maximum", 43200, 0, 7200 * time.Second},
		{"clamped to SessionNotOnOrAfter", 3600, 20 * time.Minute, 20 * time.Minute},
		{"one second", 1, 0, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": e.sign(func(o *idp.SignOptions) { o.SessionTTL = tc.session })}
			if tc.dur != nil {
				body["durationSeconds"] = tc.dur
			}
			a := e.post(body)
			if a.status != 200 {
				t.Fatalf("status %d: %v", a.status, a.body)
			}
			if a.body["expiry"] != e.now.Add(tc.want).Format("2006-01-02T15:04:05Z") {
				t.Fatalf("expiry %v, want now+%s", a.body["expiry"], tc.want)
			}
		})
	}
}

func TestExchangeRefusals(t *testing.T) { teststore.Each(t, testExchangeRefusals) }

func testExchangeRefusals(t *testing.T, b teststore.Backend) {
	e := newEnv(t, b, false)
	good := func() string { return e.sign(nil) }
	tamper := func() string {
		xml, _ := base64.StdEncoding.DecodeString(e.sign(nil))
		return base64.StdEncoding.EncodeToString(bytes.Replace(xml, []byte("reader-role"), []byte("admin-role"), 1))
	}
	big := strings.Repeat("A", 600<<10)
	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"not JSON", []byte(`{"orgId":`), 400, "invalid_json"},
		{"unknown field", map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": "x", "role": "admin"}, 400, "invalid_argument"},
		{"body over 512 KiB", map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": big}, 413, "payload_too_large"},
		{"decoded XML over 256 KiB", map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("<"), 300<<10))}, 400, "invalid_saml_response"},
		{"not base64", map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": "!!!"}, 400, "invalid_saml_response"},
		{"missing samlResponse", map[string]any{"orgId": "acme", "configId": e.cfgID}, 400, "invalid_saml_response"},
		{"unknown org", map[string]any{"orgId": "nope", "configId": e.cfgID, "samlResponse": good()}, 404, "not_found"},
		{"unknown config", map[string]any{"orgId": "acme", "configId": "nope", "samlResponse": good()}, 404, "not_found"},
		{"another org's config", map[string]any{"orgId": "acme", "configId": e.otherCfg, "samlResponse": good()}, 404, "not_found"},
		{"inactive config", map[string]any{"orgId": "acme", "configId": e.inactive, "samlResponse": good()}, 403, "config_inactive"},
		{"duration zero", map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": good(), "durationSeconds": 0}, 400, "duration_out_of_range"},
		{"duration over 12h", map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": good(), "durationSeconds": 43201}, 400, "duration_out_of_range"},
		{"reserved tag key", map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": good(), "attributes": map[string]string{"cw-x": "1"}}, 400, "invalid_argument"},
		{"role tag key", map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": good(), "attributes": map[string]string{"role": "admin"}}, 400, "invalid_argument"},
		{"tag value too long", map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": good(), "attributes": map[string]string{"a": strings.Repeat("v", 257)}}, 400, "invalid_argument"},
		{"edited after signing", map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": tamper()}, 401, "invalid_signature"},
		{"assertion for org other presented to acme", map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": e.sign(func(o *idp.SignOptions) { o.OrgID = "other" })}, 401, "audience_mismatch"},
		{"expired", map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": e.sign(func(o *idp.SignOptions) {
			o.Now = func() time.Time { return e.now.Add(-time.Hour) }
		})}, 401, "assertion_expired"},
		{"two roles", map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": e.sign(func(o *idp.SignOptions) {
			o.Attributes = map[string][]string{"https://coreweave.com/SAML/Attributes/Role": {"a", "b"}}
		})}, 403, "condition_not_met"},
		{"no role", map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": e.sign(func(o *idp.SignOptions) { o.Role = "" })}, 403, "condition_not_met"},
	}
	tags := map[string]string{}
	for i := range 16 {
		tags[string(rune('a'+i))] = "v"
	}
	tests = append(tests, struct {
		name   string
		body   any
		status int
		code   string
	}{"16 tags", map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": good(), "attributes": tags}, 400, "invalid_argument"})

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.keyCount()
			a := e.post(tc.body)
			if a.status != tc.status || a.body["code"] != tc.code {
				t.Fatalf("got %d %v, want %d %s", a.status, a.body, tc.status, tc.code)
			}
			if msg, _ := a.body["message"].(string); msg == "" || len(msg) > 1024 {
				t.Fatalf("message %q", msg)
			}
			if e.keyCount() != before {
				t.Fatal("a credential was minted")
			}
		})
	}
	// Refusals are audited without any identity from the message.
	evs, _ := e.st.ListEvents(context.Background(), store.EventFilter{OrgID: "acme", Limit: 1000})
	if len(evs) == 0 {
		t.Fatal("refusals not audited")
	}
	for _, ev := range evs {
		if ev.Outcome != "failure" || ev.PrincipalName != "" || ev.Role != "" || ev.AccessKeyID != "" || ev.Code == "" {
			t.Fatalf("refusal event carries identity or lacks a code: %+v", ev)
		}
	}
}

func TestExchangeReplay(t *testing.T) { teststore.Each(t, testExchangeReplay) }

func testExchangeReplay(t *testing.T, b teststore.Backend) {
	e := newEnv(t, b, false)
	resp := e.sign(nil)
	if a := e.post(map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": resp}); a.status != 200 {
		t.Fatalf("first use: %d %v", a.status, a.body)
	}
	a := e.post(map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": resp})
	if a.status != 401 || a.body["code"] != "replayed_assertion" {
		t.Fatalf("second use: %d %v", a.status, a.body)
	}
	// Same assertion ID re-wrapped in a fresh Response.
	a = e.post(map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": e.sign(func(o *idp.SignOptions) {
		xml, _ := base64.StdEncoding.DecodeString(resp)
		i := bytes.Index(xml, []byte(`<saml:Assertion`))
		j := bytes.Index(xml[i:], []byte(`ID="`))
		id := xml[i+j+4:]
		o.AssertionID = string(id[:bytes.IndexByte(id, '"')])
	})})
	if a.status != 401 || a.body["code"] != "replayed_assertion" {
		t.Fatalf("re-wrapped: %d %v", a.status, a.body)
	}
	if n := e.keyCount(); n != 1 {
		t.Fatalf("%d keys minted, want 1", n)
	}
}

func TestExchangeReplayCacheDownFailsClosed(t *testing.T) {
	teststore.Each(t, testExchangeReplayCacheDownFailsClosed)
}

func testExchangeReplayCacheDownFailsClosed(t *testing.T, b teststore.Backend) {
	e := newEnv(t, b, true)
	a := e.post(map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": e.sign(nil)})
	if a.status != 503 || a.body["code"] != "unavailable" {
		t.Fatalf("got %d %v, want a 503 refusal", a.status, a.body)
	}
	if e.keyCount() != 0 {
		t.Fatal("minted without a replay check")
	}
}

// TestRevocationIsImmediate checks the credential cache honours a revocation
// at once and an expiry at lookup time.
func TestRevocationIsImmediate(t *testing.T) { teststore.Each(t, testRevocationIsImmediate) }

func testRevocationIsImmediate(t *testing.T, b teststore.Backend) {
	e := newEnv(t, b, false)
	a := e.post(map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": e.sign(nil), "durationSeconds": 60})
	akid, _ := a.body["accessKeyId"].(string)
	now := e.now
	cache := &creds.Cache{Keys: e.keys, Source: e.st, Now: func() time.Time { return now }}
	ctx := context.Background()
	c, err := cache.Lookup(ctx, akid)
	if err != nil || c.Secret != a.body["secretKey"] || c.Key.PrincipalName != "saml/alice@example.com" {
		t.Fatalf("lookup: %+v %v", c, err)
	}
	adm := &admin.API{Store: e.st, Keys: cache, Now: func() time.Time { return now }}
	rt := jsonapi.NewRouter()
	adm.Register(rt)
	tok := admin.NewToken()
	if err := e.st.Update(ctx, func(tx store.Tx) error {
		return tx.PutToken(ctx, store.Token{ID: "t", OrgID: "acme", Hash: admin.HashToken(tok)})
	}); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/v1/cwobject/revoke-access-key/access-key", strings.NewReader(`{"accessKey":"`+akid+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	rt.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	if _, err := cache.Lookup(ctx, akid); !errors.Is(err, creds.ErrRevoked) {
		t.Fatalf("after revoke: %v", err)
	}
	// A second key expires by the clock alone.
	a = e.post(map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": e.sign(nil), "durationSeconds": 60})
	akid2, _ := a.body["accessKeyId"].(string)
	if _, err := cache.Lookup(ctx, akid2); err != nil {
		t.Fatal(err)
	}
	now = now.Add(61 * time.Second)
	if _, err := cache.Lookup(ctx, akid2); !errors.Is(err, creds.ErrExpired) {
		t.Fatalf("after expiry: %v", err)
	}
}

// TestReplayScopedPerOrg: two orgs trust the same IdP entity ID; one
// assertion ID exchanged in each succeeds in both, and a replay in either
// org is refused. Before claims were scoped, the first org to use an ID
// burnt it for the other (issue 9, defect 6).
func TestReplayScopedPerOrg(t *testing.T) { teststore.Each(t, testReplayScopedPerOrg) }

func testReplayScopedPerOrg(t *testing.T, b teststore.Backend) {
	e := newEnv(t, b, false)
	const id = "_shared-assertion-id"
	exchange := func(org, cfg string) answer {
		t.Helper()
		return e.post(map[string]any{"orgId": org, "configId": cfg, "samlResponse": e.sign(func(o *idp.SignOptions) {
			o.OrgID, o.AssertionID = org, id
		})})
	}
	// The other org goes first: it must not burn acme's assertion ID.
	for _, org := range [][2]string{{"other", e.otherCfg}, {"acme", e.cfgID}} {
		if a := exchange(org[0], org[1]); a.status != 200 {
			t.Fatalf("%s: first use of the ID: %d %v", org[0], a.status, a.body)
		}
	}
	for _, org := range [][2]string{{"acme", e.cfgID}, {"other", e.otherCfg}} {
		if a := exchange(org[0], org[1]); a.status != 401 || a.body["code"] != "replayed_assertion" {
			t.Fatalf("%s: replay: %d %v", org[0], a.status, a.body)
		}
	}
	if n := e.keyCount(); n != 2 {
		t.Fatalf("%d keys minted, want 2", n)
	}
}

// TestExchangeHostileIDs: org and config IDs no store could hold (NUL,
// control bytes, invalid UTF-8) are simply not found, on every store and
// through both entry points; none is a server error. PostgreSQL answered
// them with 500 when IDs were kept as text.
func TestExchangeHostileIDs(t *testing.T) { teststore.Each(t, testExchangeHostileIDs) }

func testExchangeHostileIDs(t *testing.T, b teststore.Backend) {
	e := newEnv(t, b, false)
	good := e.sign(nil)
	for _, tc := range []struct{ org, cfg string }{
		{"acme\x00", e.cfgID}, {"\x00", e.cfgID}, {"acme", e.cfgID + "\x00"}, {"acme", "\x01\x7f"},
		{"acme", strings.Repeat("\x00", 4096)}, {"acme", "é😀\u202e"},
	} {
		a := e.post(map[string]any{"orgId": tc.org, "configId": tc.cfg, "samlResponse": good})
		if a.status != 404 || a.body["code"] != "not_found" {
			t.Errorf("org %.40q config %.40q: %d %v, want 404 not_found", tc.org, tc.cfg, a.status, a.body)
		}
	}
	c := e.stsClient(t)
	role := "arn:aws:iam::acme:role/writer"
	assertion := e.awsAssertion(role, "arn:aws:iam::acme:saml-provider/"+e.cfgID)
	for _, cfg := range []string{e.cfgID + "\x00", "\x00", "\xff", "x\xc3"} {
		provider := "arn:aws:iam::acme:saml-provider/" + cfg
		_, err := c.AssumeRoleWithSAML(context.Background(), &awssts.AssumeRoleWithSAMLInput{RoleArn: aws.String(role),
			PrincipalArn: aws.String(provider), SAMLAssertion: aws.String(assertion)})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterValue" {
			t.Errorf("provider config %q: %v, want InvalidParameterValue", cfg, err)
		}
	}
	if n := e.keyCount(); n != 0 {
		t.Fatalf("%d keys minted", n)
	}
}
