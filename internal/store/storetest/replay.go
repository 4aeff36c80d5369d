package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/store"
)

func testReplay(t *testing.T, s store.Store) {
	k := "saml\x00" + long("https://idp.example.com/") + "\x00" + hostile("_id1")
	until := t0.Add(time.Minute)
	if err := s.ClaimReplay(ctx, k, until, t0); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	wantErr(t, "second claim", s.ClaimReplay(ctx, k, until.Add(time.Hour), t0.Add(30*time.Second)), store.ErrReplayed)
	wantErr(t, "claim 1ns before expiry", s.ClaimReplay(ctx, k, until.Add(time.Hour), until.Add(-time.Nanosecond)), store.ErrReplayed)
	// At until the claim has expired and the key may be claimed again (the
	// assertion itself is expired by then, so the validator refuses it).
	if err := s.ClaimReplay(ctx, k, t2200, until); err != nil {
		t.Fatalf("claim at expiry: %v", err)
	}
	wantErr(t, "claim held until 2200", s.ClaimReplay(ctx, k, t2200, t2200.Add(-time.Nanosecond)), store.ErrReplayed)
	if err := s.ClaimReplay(ctx, k, t2200.Add(time.Hour), t2200); err != nil {
		t.Fatalf("claim in 2200: %v", err)
	}
	// A claim already expired when made holds nothing.
	if err := s.ClaimReplay(ctx, "past", t1971, t0); err != nil {
		t.Fatalf("claim of the past: %v", err)
	}
	if err := s.ClaimReplay(ctx, "past", t0.Add(time.Minute), t0); err != nil {
		t.Fatalf("claim over an expired one: %v", err)
	}
}

// testReplayKeys checks the key is opaque bytes: any content, any length,
// and two keys are the same only if every byte is.
func testReplayKeys(t *testing.T, s store.Store) {
	prefix := strings.Repeat("p", 64<<10)
	keys := []string{
		"", "\x00", "\x00\x00", "a", "a\x00", "a\x00b", "a\x00c", "A", "a ",
		"\xff", "\xff\xfe", "\xc0\x80", "\xed\xa0\x80", "ok\xc3",
		hostile("k"), long("k"), prefix + "x", prefix + "y", prefix,
		"é", "e\u0301", "\\x41", "A\\", "'", "%",
		strings.Repeat("\x00", 1<<20), strings.Repeat("\x00", 1<<20) + "\x01",
	}
	until := t0.Add(time.Hour)
	for i, k := range keys {
		if err := s.ClaimReplay(ctx, k, until, t0); err != nil {
			t.Fatalf("claim key %d (%d bytes): %v", i, len(k), err)
		}
	}
	for i, k := range keys {
		wantErr(t, fmt.Sprintf("reclaim key %d", i), s.ClaimReplay(ctx, k, until, t0), store.ErrReplayed)
	}
}

func testReplayConcurrent(t *testing.T, s store.Store) {
	claimRace(t, s, hostile("race"), t0)
}

// testReplayConcurrentExpired: of concurrent claims over an expired entry,
// exactly one wins too (a read-then-update would let several through).
func testReplayConcurrentExpired(t *testing.T, s store.Store) {
	k := hostile("race")
	if err := s.ClaimReplay(ctx, k, t0, t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		claimRace(t, s, k, t0.Add(time.Duration(round)*2*time.Hour))
	}
}

// claimRace makes 8 concurrent claims of k at now, valid for an hour, and
// requires exactly one to succeed and the rest to be ErrReplayed.
func claimRace(t *testing.T, s store.Store, k string, now time.Time) {
	t.Helper()
	const n = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = s.ClaimReplay(ctx, k, now.Add(time.Hour), now)
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrReplayed):
		default:
			t.Fatalf("claim: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent claims succeeded at %v, want exactly 1", ok, now)
	}
}
