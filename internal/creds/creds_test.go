package creds_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/creds"
	"github.com/s3fed/s3fed/internal/identity"
	"github.com/s3fed/s3fed/internal/store"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func ring(current uint16, epochs ...uint16) *creds.Keyring {
	kr := &creds.Keyring{Current: current, Keys: map[uint16][]byte{}}
	for _, e := range epochs {
		kr.Keys[e] = key(byte(e))
	}
	return kr
}

func TestAccessKeyIDs(t *testing.T) {
	kr := ring(1, 1)
	seen := make(map[string]bool, 10000)
	for range 10000 {
		id := kr.NewAccessKeyID()
		if len(id) != creds.IDLength || len(id) < 20 {
			t.Fatalf("ID %q has length %d, want %d (>= 20)", id, len(id), creds.IDLength)
		}
		if !strings.HasPrefix(id, creds.Prefix) {
			t.Fatalf("ID %q lacks prefix %q", id, creds.Prefix)
		}
		for _, c := range id {
			if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				t.Fatalf("ID %q has a character outside uppercase alphanumerics", id)
			}
		}
		if !creds.WellFormed(id) {
			t.Fatalf("own ID %q is not WellFormed", id)
		}
		if seen[id] {
			t.Fatalf("ID %q repeated", id)
		}
		seen[id] = true
	}
	// The epoch is part of the ID: other epochs make other IDs.
	a, b := ring(1, 1).NewAccessKeyID(), ring(2, 2).NewAccessKeyID()
	if a[:len(creds.Prefix)+2] == b[:len(creds.Prefix)+2] {
		t.Errorf("IDs of epochs 1 and 2 share their epoch characters: %s %s", a, b)
	}
	if id := ring(creds.MaxEpoch, creds.MaxEpoch).NewAccessKeyID(); !creds.WellFormed(id) {
		t.Errorf("max-epoch ID %q not well formed", id)
	}
}

func TestWellFormed(t *testing.T) {
	good := ring(1, 1).NewAccessKeyID()
	tests := []struct {
		id   string
		want bool
	}{
		{good, true},
		{"", false},
		{good[:len(good)-1], false},
		{good + "A", false},
		{"AKIA" + good[4:], false},
		{strings.ToLower(good), false},
		{good[:10] + "0" + good[11:], false}, // 0, 1, 8, 9 are not base32
		{good[:10] + "1" + good[11:], false},
		{good[:10] + "8" + good[11:], false},
		{good[:10] + "=" + good[11:], false},
		{good[:10] + "é" + good[12:], false},
	}
	for _, tt := range tests {
		if got := creds.WellFormed(tt.id); got != tt.want {
			t.Errorf("WellFormed(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestSecretDerivation(t *testing.T) {
	old := ring(1, 1)
	id1 := old.NewAccessKeyID()
	s1, err := old.Secret(id1)
	if err != nil {
		t.Fatal(err)
	}
	if len(s1) < 40 {
		t.Errorf("secret %q is short", s1)
	}
	// Deterministic per (epoch key, id): another keyring with the same key agrees.
	if again, _ := ring(1, 1).Secret(id1); again != s1 {
		t.Errorf("secret not deterministic: %q vs %q", again, s1)
	}
	// Another ID, another secret.
	if s, _ := old.Secret(old.NewAccessKeyID()); s == s1 {
		t.Error("two IDs share a secret")
	}
	// Same epoch number, different master key: different secret.
	other := &creds.Keyring{Current: 1, Keys: map[uint16][]byte{1: key(0xee)}}
	if s, _ := other.Secret(id1); s == s1 {
		t.Error("secret does not depend on the master key")
	}
	// Session token and secret differ.
	if tok, _ := old.SessionToken(id1); tok == s1 || tok == "" {
		t.Errorf("session token %q equals the secret or is empty", tok)
	}

	// Rotation: add epoch 2 as current; old keys still derive the same secret.
	rotated := ring(2, 1, 2)
	if s, err := rotated.Secret(id1); err != nil || s != s1 {
		t.Errorf("after rotation: %q, %v; want the old secret", s, err)
	}
	id2 := rotated.NewAccessKeyID()
	if id2[len(creds.Prefix):len(creds.Prefix)+2] == id1[len(creds.Prefix):len(creds.Prefix)+2] {
		t.Errorf("new key %s still minted with the old epoch (old %s)", id2, id1)
	}
	s2, _ := rotated.Secret(id2)
	// The same random part under another epoch derives another secret.
	swapped := id2[:len(creds.Prefix)] + id1[len(creds.Prefix):len(creds.Prefix)+2] + id2[len(creds.Prefix)+2:]
	if s, _ := rotated.Secret(swapped); s == s2 {
		t.Error("secret does not depend on the epoch")
	}

	// An epoch no longer in the keyring is refused, as is a malformed ID.
	dropped := ring(2, 2)
	if _, err := dropped.Secret(id1); !errors.Is(err, creds.ErrUnknownKey) {
		t.Errorf("unknown epoch: err = %v, want ErrUnknownKey", err)
	}
	if _, err := dropped.SessionToken(id1); !errors.Is(err, creds.ErrUnknownKey) {
		t.Errorf("unknown epoch session token: err = %v", err)
	}
	for _, bad := range []string{"", "AKIAIOSFODNN7EXAMPLE", strings.ToLower(id1)} {
		if _, err := old.Secret(bad); !errors.Is(err, creds.ErrUnknownKey) {
			t.Errorf("Secret(%q): err = %v, want ErrUnknownKey", bad, err)
		}
	}
}

func TestKeyringValidate(t *testing.T) {
	tests := []struct {
		name string
		kr   *creds.Keyring
		err  string
	}{
		{"ok", ring(1, 1), ""},
		{"ok with old epochs", ring(3, 1, 2, 3), ""},
		{"nil", nil, "empty"},
		{"empty", &creds.Keyring{Current: 1, Keys: map[uint16][]byte{}}, "empty"},
		{"short key", &creds.Keyring{Current: 1, Keys: map[uint16][]byte{1: make([]byte, 31)}}, "at least 32"},
		{"current missing", ring(2, 1), "current epoch 2"},
		{"epoch too large", ring(creds.MaxEpoch+1, creds.MaxEpoch+1), "maximum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.kr.Validate()
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Validate = %v, want %q", err, tt.err)
			}
		})
	}
	if k1, k2 := creds.NewMasterKey(), creds.NewMasterKey(); len(k1) != 32 || bytes.Equal(k1, k2) {
		t.Error("NewMasterKey: wrong length or repeated")
	}
}

func TestDuration(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		req      int
		max      time.Duration
		notAfter time.Time
		want     time.Duration
		err      string
	}{
		{name: "omitted is one hour", req: 0, want: time.Hour},
		{name: "one second", req: 1, want: time.Second},
		{name: "twelve hours", req: 43200, want: 12 * time.Hour},
		{name: "above twelve hours", req: 43201, err: "1 to 43200"},
		{name: "negative", req: -1, err: "1 to 43200"},
		{name: "huge", req: 1 << 40, err: "1 to 43200"},
		// 18446744075 s is 2^64 ns + 1.29 s: multiplied first, it wrapped into range.
		{name: "wraps time.Duration", req: 18446744075, err: "1 to 43200"},
		{name: "clamped to config max", req: 7200, max: 900 * time.Second, want: 900 * time.Second},
		{name: "default clamped to config max", req: 0, max: 600 * time.Second, want: 600 * time.Second},
		{name: "below config max", req: 300, max: 900 * time.Second, want: 300 * time.Second},
		{name: "out of range even with a large max", req: 50000, max: 24 * time.Hour, err: "1 to 43200"},
		{name: "clamped to notAfter", req: 3600, notAfter: now.Add(10 * time.Minute), want: 10 * time.Minute},
		{name: "notAfter truncated to seconds", req: 3600, notAfter: now.Add(10*time.Minute + 900*time.Millisecond), want: 10 * time.Minute},
		{name: "notAfter later than request", req: 60, notAfter: now.Add(time.Hour), want: time.Minute},
		{name: "both clamps, max smaller", req: 3600, max: 120 * time.Second, notAfter: now.Add(10 * time.Minute), want: 2 * time.Minute},
		{name: "both clamps, notAfter smaller", req: 3600, max: 1200 * time.Second, notAfter: now.Add(5 * time.Minute), want: 5 * time.Minute},
		{name: "notAfter under a second", req: 60, notAfter: now.Add(500 * time.Millisecond), err: "session ends"},
		{name: "notAfter passed", req: 60, notAfter: now.Add(-time.Minute), err: "session ends"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := creds.Duration(tt.req, tt.max, now, tt.notAfter)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Duration = %v, %v; want error %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Duration = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func testIdentity() identity.Identity {
	return identity.Identity{OrgID: "acme", ConfigID: "cfg1", Provider: identity.ProviderSAML, Subject: "alice@example.com",
		PrincipalName: "saml/alice@example.com", Role: "reader", Groups: []string{"g1"}, Attributes: map[string][]string{"a": {"b"}}}
}

func TestMint(t *testing.T) {
	kr := ring(1, 1)
	now := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	for _, withToken := range []bool{false, true} {
		rec, c, err := kr.Mint(testIdentity(), map[string]string{"team": "x"}, time.Hour, now, withToken)
		if err != nil {
			t.Fatal(err)
		}
		if !creds.WellFormed(rec.ID) || rec.OrgID != "acme" || rec.ConfigID != "cfg1" || rec.PrincipalName != "saml/alice@example.com" ||
			rec.Role != "reader" || rec.Provider != "saml" || rec.Subject != "alice@example.com" || rec.Tags["team"] != "x" || rec.HasToken != withToken {
			t.Errorf("record %+v", rec)
		}
		if !rec.Issued.Equal(now.Truncate(time.Second)) || !rec.Expiry.Equal(now.Add(time.Hour).Truncate(time.Second)) {
			t.Errorf("issued %v expiry %v", rec.Issued, rec.Expiry)
		}
		if s, _ := kr.Secret(rec.ID); c.Secret != s || c.Key.ID != rec.ID {
			t.Errorf("credential secret is not the derived secret")
		}
		if tok, _ := kr.SessionToken(rec.ID); withToken != (c.SessionToken != "") || (withToken && c.SessionToken != tok) {
			t.Errorf("withToken=%v: session token %q", withToken, c.SessionToken)
		}
		if id := c.Identity(); id.PrincipalName != testIdentity().PrincipalName || id.Role != "reader" || id.OrgID != "acme" || len(id.Groups) != 1 {
			t.Errorf("Identity() = %+v", id)
		}
	}
}

// fakeSource is a ClaimsSource with a read counter and an injectable error.
type fakeSource struct {
	mu    sync.Mutex
	keys  map[string]store.AccessKey
	reads int
	err   error
}

func (f *fakeSource) GetAccessKey(_ context.Context, id string) (store.AccessKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.err != nil {
		return store.AccessKey{}, f.err
	}
	k, ok := f.keys[id]
	if !ok {
		return store.AccessKey{}, fmt.Errorf("get access key: %w", store.ErrNotFound)
	}
	return k, nil
}

func (f *fakeSource) set(k store.AccessKey) {
	f.mu.Lock()
	f.keys[k.ID] = k
	f.mu.Unlock()
}

func (f *fakeSource) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// clock is an injectable, settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newCache(t *testing.T) (*creds.Cache, *fakeSource, *clock, *creds.Keyring) {
	t.Helper()
	kr := ring(1, 1)
	src := &fakeSource{keys: map[string]store.AccessKey{}}
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	return &creds.Cache{Keys: kr, Source: src, TTL: 30 * time.Second, Now: clk.Now}, src, clk, kr
}

func TestCacheLookup(t *testing.T) {
	ctx := context.Background()
	c, src, clk, kr := newCache(t)
	rec, cred, _ := kr.Mint(testIdentity(), nil, 10*time.Minute, clk.Now(), false)
	src.set(rec)

	got, err := c.Lookup(ctx, rec.ID)
	if err != nil || got.Secret != cred.Secret || got.Key.PrincipalName != rec.PrincipalName || got.SessionToken != "" {
		t.Fatalf("Lookup = %+v, %v", got, err)
	}
	if _, err := c.Lookup(ctx, rec.ID); err != nil || src.count() != 1 {
		t.Errorf("second lookup within TTL read the store (%d reads), err %v", src.count(), err)
	}

	// TTL refresh: a revocation made elsewhere shows after TTL.
	revoked := rec
	revoked.Revoked = true
	src.set(revoked)
	clk.add(29 * time.Second)
	if _, err := c.Lookup(ctx, rec.ID); err != nil {
		t.Errorf("within TTL: %v (the cached entry should still answer)", err)
	}
	clk.add(2 * time.Second)
	if _, err := c.Lookup(ctx, rec.ID); !errors.Is(err, creds.ErrRevoked) {
		t.Errorf("after TTL: err = %v, want ErrRevoked", err)
	}
	if src.count() != 2 {
		t.Errorf("reads = %d, want 2", src.count())
	}
}

func TestCacheInvalidate(t *testing.T) {
	ctx := context.Background()
	c, src, clk, kr := newCache(t)
	rec, _, _ := kr.Mint(testIdentity(), nil, time.Hour, clk.Now(), true)
	src.set(rec)
	got, err := c.Lookup(ctx, rec.ID)
	if err != nil || got.SessionToken == "" {
		t.Fatalf("Lookup: %+v %v (a key with a token must carry it)", got, err)
	}
	rec.Revoked = true
	src.set(rec)
	c.Invalidate(rec.ID, "SFEDNOTCACHED")
	if _, err := c.Lookup(ctx, rec.ID); !errors.Is(err, creds.ErrRevoked) {
		t.Errorf("after Invalidate: err = %v, want ErrRevoked at once", err)
	}
	// Invalidate on an empty cache is harmless.
	(&creds.Cache{}).Invalidate("x")
}

func TestCacheExpiry(t *testing.T) {
	ctx := context.Background()
	c, src, clk, kr := newCache(t)
	c.TTL = time.Hour // expiry must not wait for a refresh
	rec, _, _ := kr.Mint(testIdentity(), nil, 10*time.Second, clk.Now(), false)
	src.set(rec)
	if _, err := c.Lookup(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	clk.add(9 * time.Second)
	if _, err := c.Lookup(ctx, rec.ID); err != nil {
		t.Errorf("one second before expiry: %v", err)
	}
	clk.add(time.Second)
	if _, err := c.Lookup(ctx, rec.ID); !errors.Is(err, creds.ErrExpired) {
		t.Errorf("at expiry: err = %v, want ErrExpired", err)
	}
	if src.count() != 1 {
		t.Errorf("expiry needed %d store reads, want 1", src.count())
	}
}

func TestCacheErrors(t *testing.T) {
	ctx := context.Background()
	c, src, _, kr := newCache(t)
	if _, err := c.Lookup(ctx, "AKIAIOSFODNN7EXAMPLE"); !errors.Is(err, creds.ErrUnknownKey) {
		t.Errorf("malformed ID: %v", err)
	}
	if src.count() != 0 {
		t.Errorf("a malformed ID reached the store")
	}
	id := kr.NewAccessKeyID()
	if _, err := c.Lookup(ctx, id); !errors.Is(err, creds.ErrUnknownKey) {
		t.Errorf("unknown ID: %v", err)
	}
	src.err = errors.New("database is down")
	_, err := c.Lookup(ctx, id)
	if err == nil || errors.Is(err, creds.ErrUnknownKey) || !strings.Contains(err.Error(), "database is down") {
		t.Errorf("store failure: %v, want the wrapped store error", err)
	}
	src.err = nil
	// A stored key whose epoch left the keyring is refused.
	foreign := ring(7, 7)
	rec, _, _ := foreign.Mint(testIdentity(), nil, time.Hour, time.Now(), false)
	src.set(rec)
	if _, err := c.Lookup(ctx, rec.ID); !errors.Is(err, creds.ErrUnknownKey) {
		t.Errorf("unknown epoch: %v", err)
	}
}

func TestCacheBounded(t *testing.T) {
	ctx := context.Background()
	c, src, clk, kr := newCache(t)
	c.Max = 10
	var ids []string
	for range 50 {
		rec, _, _ := kr.Mint(testIdentity(), nil, time.Hour, clk.Now(), false)
		src.set(rec)
		ids = append(ids, rec.ID)
		if _, err := c.Lookup(ctx, rec.ID); err != nil {
			t.Fatal(err)
		}
	}
	// Every key still answers (evicted ones are re-read).
	for _, id := range ids {
		if _, err := c.Lookup(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if src.count() <= 50 {
		t.Errorf("no eviction with Max=10: %d reads", src.count())
	}
}

func TestCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	c, src, clk, kr := newCache(t)
	c.Max = 8
	var ids []string
	for range 20 {
		rec, _, _ := kr.Mint(testIdentity(), nil, time.Hour, clk.Now(), false)
		src.set(rec)
		ids = append(ids, rec.ID)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := ids[(g+i)%len(ids)]
				if i%7 == 0 {
					c.Invalidate(id)
				}
				if _, err := c.Lookup(ctx, id); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestCacheForgetsStaleEntries: a key used once and never again must not
// stay in memory until the cache is full; memory follows the keys in use.
func TestCacheForgetsStaleEntries(t *testing.T) {
	ctx := context.Background()
	c, src, clk, kr := newCache(t)
	for range 100 { // a burst of one-shot keys
		rec, _, _ := kr.Mint(testIdentity(), nil, time.Hour, clk.Now(), false)
		src.set(rec)
		if _, err := c.Lookup(ctx, rec.ID); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 100 {
		t.Fatalf("Len = %d after 100 lookups, want 100", c.Len())
	}
	// Two TTLs later one key is in steady use: the burst is forgotten.
	steady, _, _ := kr.Mint(testIdentity(), nil, time.Hour, clk.Now(), false)
	src.set(steady)
	for range 4 {
		clk.add(c.TTL)
		if _, err := c.Lookup(ctx, steady.ID); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 1 {
		t.Errorf("Len = %d, want 1: entries older than TTL are kept", c.Len())
	}
}
