package sts_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/admin"
	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/jsonapi"
	"github.com/s3fed/s3fed/internal/store"
	"github.com/s3fed/s3fed/internal/store/teststore"
)

// TestConfigTestEndpoint checks POST .../CONFIG:test reports each check and
// the mapped identity, issues nothing, and leaves the response usable.
func TestConfigTestEndpoint(t *testing.T) { teststore.Each(t, testConfigTestEndpoint) }

func testConfigTestEndpoint(t *testing.T, b teststore.Backend) {
	e := newEnv(t, b, false)
	ctx := context.Background()
	tok := admin.NewToken()
	if err := e.st.Update(ctx, func(tx store.Tx) error {
		return tx.PutToken(ctx, store.Token{ID: "t", OrgID: "acme", Hash: admin.HashToken(tok)})
	}); err != nil {
		t.Fatal(err)
	}
	a := &admin.API{Store: e.st, TestConfig: e.svc.TestSAML, Now: func() time.Time { return e.now }}
	rt := jsonapi.NewRouter()
	a.Register(rt)
	try := func(resp string) map[string]any {
		t.Helper()
		req := httptest.NewRequest("POST", "/v1/admin/orgs/acme/workload-federation/"+e.cfgID+":test", strings.NewReader(`{"samlResponse":"`+resp+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, req)
		if w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	good := e.sign(nil)
	out := try(good)
	if out["passed"] != true || len(out["checks"].([]any)) == 0 {
		t.Fatalf("good response: %v", out)
	}
	if id, _ := out["identity"].(map[string]any); id["principalName"] != "saml/alice@example.com" || id["role"] != "reader-role" {
		t.Fatalf("identity: %v", out["identity"])
	}
	if e.keyCount() != 0 {
		t.Fatal(":test minted a key")
	}
	// The tested response is still usable for a real exchange.
	if a := e.post(map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": good}); a.status != 200 {
		t.Fatalf("exchange after :test: %d %v", a.status, a.body)
	}
	bad := try(e.sign(func(o *idp.SignOptions) { o.Audience = "https://elsewhere/" }))
	if bad["passed"] != false {
		t.Fatalf("bad response passed: %v", bad)
	}
	if errObj, _ := bad["error"].(map[string]any); errObj["code"] != "audience_mismatch" {
		t.Fatalf("error: %v", bad["error"])
	}
	failed := false
	for _, c := range bad["checks"].([]any) {
		if c.(map[string]any)["passed"] == false {
			failed = true
		}
	}
	if !failed {
		t.Fatalf("no failing check reported: %v", bad["checks"])
	}
}
