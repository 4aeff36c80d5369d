// Package storetest is the conformance suite every store backend must pass
// unchanged. A backend's test calls Run with a constructor for a fresh,
// empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/store"
)

// Run runs the whole suite; newStore must return an empty store each call.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Orgs", testOrgs},
		{"Tokens", testTokens},
		{"Configs", testConfigs},
		{"AccessKeys", testAccessKeys},
		{"Replay", testReplay},
		{"ReplayConcurrent", testReplayConcurrent},
		{"Policies", testPolicies},
		{"Buckets", testBuckets},
		{"Events", testEvents},
		{"RollbackOnError", testRollback},
		{"Prune", testPrune},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

var ctx = context.Background()

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func update(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

func testOrgs(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateOrg(ctx, store.Org{ID: "b", Name: "B", Created: t0}); err != nil {
			return err
		}
		return tx.CreateOrg(ctx, store.Org{ID: "a", Name: "A", Created: t0})
	})
	err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateOrg(ctx, store.Org{ID: "a", Name: "again"}) })
	if !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("duplicate org: got %v, want ErrAlreadyExists", err)
	}
	o, err := s.GetOrg(ctx, "a")
	if err != nil || o.Name != "A" || !o.Created.Equal(t0) {
		t.Fatalf("get org: %+v %v", o, err)
	}
	if _, err := s.GetOrg(ctx, "zz"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing org: %v", err)
	}
	list, err := s.ListOrgs(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "a" || list[1].ID != "b" {
		t.Fatalf("list orgs: %+v %v", list, err)
	}
}

func testTokens(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		if err := tx.PutToken(ctx, store.Token{ID: store.RootTokenID, Hash: "h-root-1", Created: t0}); err != nil {
			return err
		}
		// Replacing the root token drops the old hash.
		if err := tx.PutToken(ctx, store.Token{ID: store.RootTokenID, Hash: "h-root-2", Created: t0}); err != nil {
			return err
		}
		if err := tx.PutToken(ctx, store.Token{ID: "t1", OrgID: "a", Description: "ci", Hash: "h1", Created: t0}); err != nil {
			return err
		}
		return tx.PutToken(ctx, store.Token{ID: "t2", OrgID: "b", Hash: "h2", Created: t0})
	})
	if _, err := s.GetTokenByHash(ctx, "h-root-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old root hash still valid: %v", err)
	}
	if tk, err := s.GetToken(ctx, store.RootTokenID); err != nil || tk.Hash != "h-root-2" {
		t.Fatalf("root token by id: %+v %v", tk, err)
	}
	if tk, err := s.GetTokenByHash(ctx, "h-root-2"); err != nil || tk.ID != store.RootTokenID || tk.OrgID != "" {
		t.Fatalf("root token: %+v %v", tk, err)
	}
	list, err := s.ListTokens(ctx, "a")
	if err != nil || len(list) != 1 || list[0].ID != "t1" || list[0].Description != "ci" {
		t.Fatalf("list tokens: %+v %v", list, err)
	}
	// Deleting through the wrong org finds nothing.
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.DeleteToken(ctx, "b", "t1") }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cross-org delete: %v", err)
	}
	update(t, s, func(tx store.Tx) error { return tx.DeleteToken(ctx, "a", "t1") })
	if _, err := s.GetTokenByHash(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted token still valid: %v", err)
	}
}

func testConfigs(t *testing.T, s store.Store) {
	c := store.Config{OrgID: "a", ID: "c1", Kind: "saml", Name: "okta", IdPEntityID: "https://idp", Certificates: []string{"PEM"}, MaxDurationSeconds: 3600, Active: true, Created: t0, Updated: t0}
	update(t, s, func(tx store.Tx) error { return tx.CreateConfig(ctx, c) })
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateConfig(ctx, c) }); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("duplicate config: %v", err)
	}
	got, err := s.GetConfig(ctx, "a", "c1")
	if err != nil || got.IdPEntityID != c.IdPEntityID || len(got.Certificates) != 1 || !got.Active {
		t.Fatalf("get config: %+v %v", got, err)
	}
	if _, err := s.GetConfig(ctx, "b", "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("config visible from another org: %v", err)
	}
	c.Active = false
	update(t, s, func(tx store.Tx) error { return tx.UpdateConfig(ctx, c) })
	if got, _ := s.GetConfig(ctx, "a", "c1"); got.Active {
		t.Fatal("update not applied")
	}
	list, err := s.ListConfigs(ctx, "a")
	if err != nil || len(list) != 1 {
		t.Fatalf("list configs: %v %v", list, err)
	}
	update(t, s, func(tx store.Tx) error { return tx.DeleteConfig(ctx, "a", "c1") })
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.DeleteConfig(ctx, "a", "c1") }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("double delete: %v", err)
	}
}

func testAccessKeys(t *testing.T, s store.Store) {
	mk := func(id, principal, config string, expiry time.Time) store.AccessKey {
		return store.AccessKey{ID: id, OrgID: "a", ConfigID: config, Provider: "saml", PrincipalName: principal, Role: "r",
			Groups: []string{"g"}, Attributes: map[string][]string{"x": {"1", "2"}}, Tags: map[string]string{"team": "ml"},
			Issued: t0, Expiry: expiry}
	}
	update(t, s, func(tx store.Tx) error {
		for _, k := range []store.AccessKey{
			mk("K1", "saml/alice", "c1", t0.Add(time.Hour)),
			mk("K2", "saml/alice", "c2", t0.Add(time.Hour)),
			mk("K3", "saml/bob", "c1", t0.Add(-time.Minute)),
		} {
			if err := tx.CreateAccessKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	k, err := s.GetAccessKey(ctx, "K1")
	if err != nil || k.PrincipalName != "saml/alice" || k.Tags["team"] != "ml" || len(k.Attributes["x"]) != 2 || k.Revoked || !k.Expiry.Equal(t0.Add(time.Hour)) {
		t.Fatalf("get key: %+v %v", k, err)
	}
	count := func(f store.AccessKeyFilter) int {
		t.Helper()
		f.OrgID, f.Now = "a", t0
		l, err := s.ListAccessKeys(ctx, f)
		if err != nil {
			t.Fatalf("list keys: %v", err)
		}
		return len(l)
	}
	if n := count(store.AccessKeyFilter{Status: "ACTIVE"}); n != 2 {
		t.Fatalf("active: %d", n)
	}
	if n := count(store.AccessKeyFilter{Status: "EXPIRED"}); n != 1 {
		t.Fatalf("expired: %d", n)
	}
	var ids []string
	update(t, s, func(tx store.Tx) error {
		var err error
		ids, err = tx.RevokeAccessKeys(ctx, store.RevokeFilter{OrgID: "a", PrincipalName: "saml/alice", Now: t0})
		return err
	})
	if len(ids) != 2 {
		t.Fatalf("revoked %v", ids)
	}
	if n := count(store.AccessKeyFilter{Status: "REVOKED"}); n != 2 {
		t.Fatalf("revoked count: %d", n)
	}
	if n := count(store.AccessKeyFilter{PrincipalName: "saml/bob"}); n != 1 {
		t.Fatalf("by principal: %d", n)
	}
	// Another org's revocation touches nothing here.
	update(t, s, func(tx store.Tx) error {
		ids, err := tx.RevokeAccessKeys(ctx, store.RevokeFilter{OrgID: "b", Now: t0})
		if len(ids) != 0 {
			return fmt.Errorf("org b revoked %v", ids)
		}
		return err
	})
	if k, _ := s.GetAccessKey(ctx, "K3"); k.Revoked {
		t.Fatal("K3 revoked by another org")
	}
}

func testReplay(t *testing.T, s store.Store) {
	if err := s.ClaimReplay(ctx, "idp|id1", t0.Add(time.Minute), t0); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	if err := s.ClaimReplay(ctx, "idp|id1", t0.Add(time.Minute), t0.Add(30*time.Second)); !errors.Is(err, store.ErrReplayed) {
		t.Fatalf("second claim: %v", err)
	}
	// Once expired, the key may be claimed again (the assertion itself is
	// expired by then, so the validator refuses it anyway).
	if err := s.ClaimReplay(ctx, "idp|id1", t0.Add(3*time.Minute), t0.Add(2*time.Minute)); err != nil {
		t.Fatalf("claim after expiry: %v", err)
	}
}

func testReplayConcurrent(t *testing.T, s store.Store) {
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.ClaimReplay(ctx, "race", t0.Add(time.Hour), t0)
		}()
	}
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
		t.Fatalf("%d concurrent claims succeeded, want exactly 1", ok)
	}
}

func testPolicies(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		return tx.PutPolicy(ctx, store.Policy{OrgID: "a", Name: "p", Document: []byte(`{"v":1}`), Updated: t0})
	})
	update(t, s, func(tx store.Tx) error {
		return tx.PutPolicy(ctx, store.Policy{OrgID: "a", Name: "p", Document: []byte(`{"v":2}`), Updated: t0})
	})
	p, err := s.GetPolicy(ctx, "a", "p")
	if err != nil || string(p.Document) != `{"v":2}` {
		t.Fatalf("get policy: %+v %v", p, err)
	}
	if l, _ := s.ListPolicies(ctx, "b"); len(l) != 0 {
		t.Fatalf("policy leaked to org b: %v", l)
	}
	update(t, s, func(tx store.Tx) error { return tx.DeletePolicy(ctx, "a", "p") })
	if _, err := s.GetPolicy(ctx, "a", "p"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted policy: %v", err)
	}
}

func testBuckets(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		return tx.CreateBucket(ctx, store.Bucket{Name: "bk", OrgID: "a", CreatedBy: "saml/alice", Created: t0})
	})
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.CreateBucket(ctx, store.Bucket{Name: "bk", OrgID: "b"})
	}); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("bucket name taken twice: %v", err)
	}
	update(t, s, func(tx store.Tx) error { return tx.SetBucketPolicy(ctx, "bk", []byte(`{}`)) })
	b, err := s.GetBucket(ctx, "bk")
	if err != nil || b.OrgID != "a" || string(b.Policy) != `{}` {
		t.Fatalf("get bucket: %+v %v", b, err)
	}
	update(t, s, func(tx store.Tx) error { return tx.SetBucketPolicy(ctx, "bk", nil) })
	if b, _ := s.GetBucket(ctx, "bk"); b.Policy != nil {
		t.Fatalf("policy not cleared: %q", b.Policy)
	}
	if l, _ := s.ListBuckets(ctx, "a"); len(l) != 1 {
		t.Fatalf("list buckets: %v", l)
	}
	update(t, s, func(tx store.Tx) error { return tx.DeleteBucket(ctx, "bk") })
	if _, err := s.GetBucket(ctx, "bk"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted bucket: %v", err)
	}
}

func testEvents(t *testing.T, s store.Store) {
	var evs []store.Event
	for i := range 5 {
		evs = append(evs, store.Event{Time: t0.Add(time.Duration(i) * time.Second), OrgID: "a", Kind: "s3", Action: fmt.Sprint("a", i),
			Outcome: "Allow", PrincipalName: map[bool]string{true: "saml/alice", false: "saml/bob"}[i%2 == 0],
			Details: map[string]any{"bytes": i}})
	}
	evs = append(evs, store.Event{Time: t0, OrgID: "b", Kind: "admin", Action: "secret-of-b"})
	if err := s.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListEvents(ctx, store.EventFilter{OrgID: "a"})
	if err != nil || len(all) != 5 || all[0].Action != "a4" || all[4].Action != "a0" {
		t.Fatalf("newest first: %+v %v", all, err)
	}
	page, _ := s.ListEvents(ctx, store.EventFilter{OrgID: "a", Limit: 2, Before: all[1].ID})
	if len(page) != 2 || page[0].Action != "a2" {
		t.Fatalf("page: %+v", page)
	}
	alice, _ := s.ListEvents(ctx, store.EventFilter{OrgID: "a", PrincipalName: "saml/alice"})
	if len(alice) != 3 {
		t.Fatalf("principal filter: %d", len(alice))
	}
	since, _ := s.ListEvents(ctx, store.EventFilter{OrgID: "a", Since: t0.Add(3 * time.Second)})
	if len(since) != 2 {
		t.Fatalf("since filter: %d", len(since))
	}
}

func testRollback(t *testing.T, s store.Store) {
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateOrg(ctx, store.Org{ID: "x", Name: "X", Created: t0}); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, store.Event{OrgID: "x", Action: "org.create"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update error: %v", err)
	}
	if _, err := s.GetOrg(ctx, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("org written despite rollback")
	}
	if evs, _ := s.ListEvents(ctx, store.EventFilter{OrgID: "x"}); len(evs) != 0 {
		t.Fatal("event written despite rollback")
	}
}

func testPrune(t *testing.T, s store.Store) {
	if err := s.ClaimReplay(ctx, "old", t0, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.ClaimReplay(ctx, "new", t0.Add(2*time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateAccessKey(ctx, store.AccessKey{ID: "OLD", OrgID: "a", Issued: t0.Add(-2 * time.Hour), Expiry: t0.Add(-time.Hour)}); err != nil {
			return err
		}
		return tx.CreateAccessKey(ctx, store.AccessKey{ID: "NEW", OrgID: "a", Issued: t0, Expiry: t0.Add(time.Hour)})
	})
	n, err := s.Prune(ctx, t0.Add(time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("prune: %d %v", n, err)
	}
	if _, err := s.GetAccessKey(ctx, "NEW"); err != nil {
		t.Fatalf("unexpired key pruned: %v", err)
	}
	if err := s.ClaimReplay(ctx, "new", t0.Add(2*time.Hour), t0.Add(time.Minute)); !errors.Is(err, store.ErrReplayed) {
		t.Fatalf("unexpired replay entry pruned: %v", err)
	}
}
