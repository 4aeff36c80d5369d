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

// TestLimiterNoGlobalLockout floods the limiter with far more distinct
// addresses than it remembers, faster than buckets go idle: a steady client
// asking at its sustained rate must be allowed every time (issue 9 defect
// 8: the limiter used to refuse everyone once 100,000 clients were held).
func TestLimiterNoGlobalLockout(t *testing.T) {
	now := time.Unix(1000, 0)
	l := &sts.Limiter{Rate: 1, Burst: 2, Now: func() time.Time { return now }}
	const perSecond = 60_000 // 120,000 buckets within one refill time (Burst/Rate = 2 s)
	n := 0
	for round := range 5 {
		if !l.Allow("192.0.2.1") {
			t.Fatalf("round %d: the steady client was refused after %d other addresses", round, n)
		}
		for range perSecond {
			n++
			ip := fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)
			if !l.Allow(ip) {
				t.Fatalf("round %d: new address %s (the %dth) refused on its first exchange", round, ip, n)
			}
		}
		now = now.Add(time.Second)
	}
}

// TestLimiterGroupsIPv6 checks that a client is an IPv4 address or an IPv6
// /64: addresses of one /64 share a budget, IPv4-mapped IPv6 is the IPv4
// address, a zone does not make a new client.
func TestLimiterGroupsIPv6(t *testing.T) {
	now := time.Unix(1000, 0)
	l := &sts.Limiter{Rate: 0.001, Burst: 2, Now: func() time.Time { return now }}
	steps := []struct {
		client string
		want   bool
	}{
		{"2001:db8:1:2::1", true},
		{"2001:db8:1:2::2", true},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", false}, // same /64: budget spent
		{"2001:DB8:1:2:0:0:0:9", false},             // spelled differently, same /64
		{"2001:db8:1:3::1", true},                   // the next /64 is another client
		{"192.0.2.7", true},
		{"::ffff:192.0.2.7", true},
		{"192.0.2.7", false}, // the mapped form shared the IPv4 budget
		{"::ffff:c000:207", false},
		{"192.0.2.8", true}, // IPv4 clients are single addresses
		{"fe80::1%eth0", true},
		{"fe80::2", true},
		{"fe80::3%eth1", false}, // zones do not split a /64
		{"not-an-address", true},
		{"not-an-address", true},
		{"not-an-address", false},
	}
	for i, s := range steps {
		if got := l.Allow(s.client); got != s.want {
			t.Fatalf("step %d (%s): got %v, want %v", i, s.client, got, s.want)
		}
	}
}

// TestLimiterBounded checks memory stays within MaxClients under a flood of
// addresses, that the flood cannot lock out a steady client, and that room
// is made by forgetting the least recently used client, so a client that
// keeps asking keeps its (spent) budget.
func TestLimiterBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	l := &sts.Limiter{Rate: 1, Burst: 2, MaxClients: 100, Now: func() time.Time { return now }}
	n := 0
	for round := range 20 {
		if !l.Allow("2001:db8::1") {
			t.Fatalf("round %d: the steady client was refused", round)
		}
		for range 10_000 {
			n++
			l.Allow(fmt.Sprintf("2001:db8:%x:%x::1", n>>16, n&0xffff))
			if c := l.Clients(); c > 100 {
				t.Fatalf("after %d addresses the limiter holds %d clients, bound 100", n, c)
			}
		}
		now = now.Add(time.Second)
	}

	// Least recently used goes first.
	l = &sts.Limiter{Rate: 0.001, Burst: 1, MaxClients: 3, Now: func() time.Time { return now }}
	steps := []struct {
		client string
		want   bool
	}{
		{"192.0.2.1", true}, {"192.0.2.2", true}, {"192.0.2.3", true},
		{"192.0.2.1", false}, // spent; now the most recently used
		{"192.0.2.4", true},  // full: forgets .2, the least recently used
		{"192.0.2.1", false}, // still remembered, still spent
		{"192.0.2.3", false}, // still remembered
		{"192.0.2.2", true},  // forgotten, so a fresh budget; forgets .4
		{"192.0.2.4", true},  // forgotten too; forgets .1
		{"192.0.2.3", false}, // .3 was used since, so it stayed
	}
	for i, s := range steps {
		if got := l.Allow(s.client); got != s.want {
			t.Fatalf("LRU step %d (%s): got %v, want %v", i, s.client, got, s.want)
		}
		if c := l.Clients(); c > 3 {
			t.Fatalf("LRU step %d: %d clients, bound 3", i, c)
		}
	}
}

// TestLimiterForgetsIdle checks a bucket idle long enough to be full again
// is dropped: memory follows the active clients, not all clients ever seen.
func TestLimiterForgetsIdle(t *testing.T) {
	now := time.Unix(1000, 0)
	l := &sts.Limiter{Rate: 1, Burst: 2, Now: func() time.Time { return now }}
	for i := range 1000 {
		l.Allow(fmt.Sprintf("198.51.100.%d", i%250))
		l.Allow(fmt.Sprintf("2001:db8:%x::1", i))
	}
	if c := l.Clients(); c != 1250 {
		t.Fatalf("%d clients, want 1250", c)
	}
	now = now.Add(2 * time.Second) // Burst/Rate: every bucket is full again
	if !l.Allow("203.0.113.1") {
		t.Fatal("refused")
	}
	if c := l.Clients(); c != 1 {
		t.Fatalf("after every bucket went idle: %d clients, want 1", c)
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":            "192.0.2.1",
		"::ffff:192.0.2.1":     "192.0.2.1",
		"2001:db8:a:b:c:d:e:f": "2001:db8:a:b::/64",
		"2001:0DB8:A:B::1":     "2001:db8:a:b::/64",
		"fe80::1%eth0":         "fe80::/64",
		"::1":                  "::/64",
		"":                     "",
		"unix-socket-peer":     "unix-socket-peer",
		"[2001:db8::1]":        "[2001:db8::1]", // not an address: taken as is
	} {
		if got := sts.ClientKey(in); got != want {
			t.Errorf("ClientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkLimiterFlood measures a refusal-path decision while the limiter
// is at its bound and every request comes from a new address (each one
// forgets the least recently used client).
func BenchmarkLimiterFlood(b *testing.B) {
	l := &sts.Limiter{Rate: 1, Burst: 2, MaxClients: 10_000}
	ips := make([]string, 1<<16)
	for i := range ips {
		ips[i] = fmt.Sprintf("2001:db8:%x::1", i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		l.Allow(ips[i&(len(ips)-1)])
	}
}
