package sts_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/store"
	"github.com/s3fed/s3fed/internal/store/teststore"
	"github.com/s3fed/s3fed/internal/sts"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := &sts.Limiter{Rate: 2, Burst: 3, Now: func() time.Time { return now }}
	steps := []struct {
		advance time.Duration
		client  string
		want    bool
	}{
		{0, "a", true}, {0, "a", true}, {0, "a", true}, // the burst
		{0, "a", false},                      // empty
		{0, "b", true},                       // another client has its own bucket
		{400 * time.Millisecond, "a", false}, // 0.8 token
		{100 * time.Millisecond, "a", true},  // 1 token after 0.5 s at 2/s
		{time.Hour, "a", true},               // refilled, capped at the burst
		{0, "a", true}, {0, "a", true}, {0, "a", false},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if got := l.Allow(s.client); got != s.want {
			t.Fatalf("step %d (%s after %s): got %v, want %v", i, s.client, s.advance, got, s.want)
		}
	}
	if !(*sts.Limiter)(nil).Allow("x") || !(&sts.Limiter{}).Allow("x") {
		t.Fatal("a nil or zero limiter must allow")
	}
}

// TestExchangeRateLimited checks the endpoint answers 429 rate_limited with
// Retry-After once a client's budget is spent, and mints nothing then.
func TestExchangeRateLimited(t *testing.T) { teststore.Each(t, testExchangeRateLimited) }

func testExchangeRateLimited(t *testing.T, b teststore.Backend) {
	e := newEnv(t, b, false)
	e.svc.Limit = &sts.Limiter{Rate: 0.001, Burst: 2}
	for i := range 4 {
		body := fmt.Sprintf(`{"orgId":"acme","configId":%q,"samlResponse":%q}`, e.cfgID, e.sign(nil))
		resp, err := http.Post(e.srv.URL+"/v1/cwobject/temporary-credentials/saml", "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := 200
		if i >= 2 {
			want = 429
		}
		if resp.StatusCode != want {
			t.Fatalf("exchange %d: %d, want %d", i, resp.StatusCode, want)
		}
		if want == 429 && resp.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if n := e.keyCount(); n != 2 {
		t.Fatalf("%d keys minted, want 2", n)
	}
	// One audit event for the throttling episode, not one per refusal.
	evs, _ := e.st.ListEvents(context.Background(), store.EventFilter{OrgID: "", Limit: 100})
	n := 0
	for _, ev := range evs {
		if ev.Code == "rate_limited" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d rate_limited audit events, want 1", n)
	}
}
