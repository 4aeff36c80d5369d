package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/store"
)

// key is a fully populated access key of org with hostile claims.
func key(org, id, principal, config string, issued, expiry time.Time) store.AccessKey {
	return store.AccessKey{ID: id, OrgID: org, ConfigID: config, Provider: "saml", Subject: hostile("subject"),
		PrincipalName: principal, Role: hostile("role"), Groups: []string{hostile("g1"), "", long("g2")},
		Attributes: map[string][]string{hostile("attr"): {hostile("v1"), ""}, "": {"empty name"}, long("k"): nil},
		Tags:       map[string]string{"team": hostile("ml"), "cost-center": ""}, SessionPolicy: hostile(`{"Version":"2012-10-17"}`),
		HasToken: true, Issued: issued, Expiry: expiry}
}

func testAccessKeys(t *testing.T, s store.Store) {
	orgA := hostile("org-a")
	k1 := key(orgA, hostile("K1"), hostile("saml/alice"), hostile("c1"), t1971, t2200)
	k2 := key(orgA, long("K2"), "saml/bob", "c2", tIndia, tIndia.Add(time.Hour))
	k2.HasToken, k2.Groups, k2.Attributes, k2.Tags, k2.SessionPolicy, k2.Provider = false, nil, nil, nil, "", "oidc"
	update(t, s, func(tx store.Tx) error {
		for _, k := range []store.AccessKey{k1, k2} {
			if err := tx.CreateAccessKey(ctx, k); err != nil {
				return fmt.Errorf("create %q: %w", k.ID, err)
			}
		}
		return nil
	})
	for _, k := range []store.AccessKey{k1, k2} {
		got, err := s.GetAccessKey(ctx, k.ID)
		if err != nil {
			t.Fatalf("get key %q: %v", k.ID, err)
		}
		same(t, "access key", got, k)
	}
	updateErr(t, s, "duplicate key ID", store.ErrAlreadyExists, func(tx store.Tx) error {
		return tx.CreateAccessKey(ctx, key(hostile("org-b"), k1.ID, "p", "c", t0, t0))
	})
	for _, id := range append([]string{"K1", hostile("K"), k1.ID + "\x00", ""}, invalidUTF8...) {
		_, err := s.GetAccessKey(ctx, id)
		wantErr(t, fmt.Sprintf("get missing key %q", id), err, store.ErrNotFound)
	}
	list, err := s.ListAccessKeys(ctx, store.AccessKeyFilter{OrgID: orgA, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "list keys (newest issued first)", ids(list, keyID), []string{k2.ID, k1.ID})
	same(t, "listed key", list[1], k1)
}

// testAccessKeyFilters exercises every AccessKeyFilter field, the expiry
// boundary and Limit.
func testAccessKeyFilters(t *testing.T, s store.Store) {
	orgA, orgB := hostile("org-a"), hostile("org-b")
	alice, bob := hostile("saml/alice"), hostile("saml/bob")
	c1, c2 := hostile("c1"), hostile("c2")
	now := t0
	keys := []store.AccessKey{
		key(orgA, "A-live", alice, c1, now.Add(-3*time.Second), now.Add(time.Nanosecond)), // expires 1ns after now: ACTIVE
		key(orgA, "A-edge", alice, c2, now.Add(-2*time.Second), now),                      // expires at now: EXPIRED
		key(orgA, "A-old", bob, c1, t1971, t1971.Add(time.Hour)),                          // long expired
		key(orgA, "A-far", bob, c2, now.Add(-time.Second), t2200),                         // ACTIVE, then revoked below
		key(orgA, "A-tie2", alice, c1, now.Add(-4*time.Second), t2200),                    // same issued as A-tie1: ID decides
		key(orgA, "A-tie1", alice, c1, now.Add(-4*time.Second), t2200),
		key(orgB, "B-live", alice, c1, now, t2200), // same principal and config names, other org
	}
	update(t, s, func(tx store.Tx) error {
		for _, k := range keys {
			if err := tx.CreateAccessKey(ctx, k); err != nil {
				return err
			}
		}
		ids, err := tx.RevokeAccessKeys(ctx, store.RevokeFilter{OrgID: orgA, AccessKeyID: "A-far", Now: now})
		if err != nil || len(ids) != 1 {
			return fmt.Errorf("revoke A-far: %q %w", ids, err)
		}
		return nil
	})
	// Newest issued first; A-tie1 and A-tie2 share an issue time.
	all := []string{"A-far", "A-edge", "A-live", "A-tie1", "A-tie2", "A-old"}
	tests := []struct {
		name string
		f    store.AccessKeyFilter
		want []string
	}{
		{"all of org A", store.AccessKeyFilter{}, all},
		{"ACTIVE: expiry after now", store.AccessKeyFilter{Status: "ACTIVE"}, []string{"A-live", "A-tie1", "A-tie2"}},
		{"EXPIRED: expiry at or before now", store.AccessKeyFilter{Status: "EXPIRED"}, []string{"A-edge", "A-old"}},
		{"REVOKED", store.AccessKeyFilter{Status: "REVOKED"}, []string{"A-far"}},
		{"ACTIVE 1ns later", store.AccessKeyFilter{Status: "ACTIVE", Now: now.Add(time.Nanosecond)}, []string{"A-tie1", "A-tie2"}},
		{"EXPIRED 1ns earlier", store.AccessKeyFilter{Status: "EXPIRED", Now: now.Add(-time.Nanosecond)}, []string{"A-old"}},
		{"ACTIVE in 2200", store.AccessKeyFilter{Status: "ACTIVE", Now: t2200.Add(-time.Nanosecond)}, []string{"A-tie1", "A-tie2"}},
		{"EXPIRED in 2200", store.AccessKeyFilter{Status: "EXPIRED", Now: t2200}, []string{"A-edge", "A-live", "A-tie1", "A-tie2", "A-old"}},
		{"ACTIVE in 1971", store.AccessKeyFilter{Status: "ACTIVE", Now: t1971}, []string{"A-edge", "A-live", "A-tie1", "A-tie2", "A-old"}},
		{"principal", store.AccessKeyFilter{PrincipalName: bob}, []string{"A-far", "A-old"}},
		{"principal, not a prefix", store.AccessKeyFilter{PrincipalName: "saml/alice"}, []string{}},
		{"principal cut at NUL", store.AccessKeyFilter{PrincipalName: "saml/bob\x00"}, []string{}},
		{"config", store.AccessKeyFilter{ConfigID: c2}, []string{"A-far", "A-edge"}},
		{"principal and config", store.AccessKeyFilter{PrincipalName: alice, ConfigID: c1}, []string{"A-live", "A-tie1", "A-tie2"}},
		{"principal, config and status", store.AccessKeyFilter{PrincipalName: alice, ConfigID: c2, Status: "EXPIRED"}, []string{"A-edge"}},
		{"limit 1", store.AccessKeyFilter{Limit: 1}, all[:1]},
		{"limit 4", store.AccessKeyFilter{Limit: 4}, all[:4]},
		{"limit larger than the list", store.AccessKeyFilter{Limit: 1000}, all},
		{"limit below zero is no limit", store.AccessKeyFilter{Limit: -1}, all},
		{"limit with status", store.AccessKeyFilter{Status: "ACTIVE", Limit: 2}, []string{"A-live", "A-tie1"}},
		{"unknown org", store.AccessKeyFilter{OrgID: hostile("org-c")}, []string{}},
		{"invalid UTF-8 org", store.AccessKeyFilter{OrgID: "\xff"}, []string{}},
		{"org B", store.AccessKeyFilter{OrgID: orgB}, []string{"B-live"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			if f.OrgID == "" {
				f.OrgID = orgA
			}
			if f.Now.IsZero() {
				f.Now = now
			}
			got, err := s.ListAccessKeys(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			sameIDs(t, "keys", ids(got, keyID), tc.want)
			for _, k := range got {
				if k.Revoked != (k.ID == "A-far") || k.Revoked != !k.RevokedAt.IsZero() {
					t.Fatalf("key %s: Revoked %v RevokedAt %v", k.ID, k.Revoked, k.RevokedAt)
				}
			}
		})
	}
	for _, status := range []string{"active", "ALL", "REVOKED ", "\x00"} {
		if _, err := s.ListAccessKeys(ctx, store.AccessKeyFilter{OrgID: orgA, Status: status, Now: now}); err == nil {
			t.Errorf("status %q: no error", status)
		}
	}
}

// testRevoke exercises every RevokeFilter field, revoking twice, RevokedAt
// and HasToken.
func testRevoke(t *testing.T, s store.Store) {
	orgA, orgB := hostile("org-a"), hostile("org-b")
	alice, bob := hostile("saml/alice"), hostile("saml/bob")
	c1, c2 := hostile("c1"), hostile("c2")
	exp := t2200
	mk := []store.AccessKey{
		key(orgA, hostile("K-a1"), alice, c1, t0, exp),
		key(orgA, hostile("K-a2"), alice, c2, t0, exp),
		key(orgA, hostile("K-b1"), bob, c1, t0, exp),
		key(orgA, hostile("K-b2"), bob, c2, t0, exp),
		key(orgA, hostile("K-old"), bob, c2, t1971, t1971.Add(time.Hour)), // expired: revoked too
		key(orgB, hostile("K-B"), alice, c1, t0, exp),
	}
	mk[1].HasToken = false
	update(t, s, func(tx store.Tx) error {
		for _, k := range mk {
			if err := tx.CreateAccessKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	revoke := func(f store.RevokeFilter) []string {
		t.Helper()
		var got []string
		update(t, s, func(tx store.Tx) error {
			var err error
			got, err = tx.RevokeAccessKeys(ctx, f)
			return err
		})
		if got == nil {
			t.Fatalf("revoke %+v: nil list", f)
		}
		return sorted(got)
	}
	state := func(id string) store.AccessKey {
		t.Helper()
		k, err := s.GetAccessKey(ctx, id)
		if err != nil {
			t.Fatalf("get %q: %v", id, err)
		}
		return k
	}

	var noOrgErr error
	_ = s.Update(ctx, func(tx store.Tx) error {
		_, noOrgErr = tx.RevokeAccessKeys(ctx, store.RevokeFilter{PrincipalName: alice, Now: t0})
		return noOrgErr
	})
	if noOrgErr == nil {
		t.Fatal("revoke without an org: no error")
	}
	for _, k := range mk {
		if state(k.ID).Revoked {
			t.Fatalf("%q revoked by a refused revocation", k.ID)
		}
	}

	at1 := t0.Add(1234567 * time.Nanosecond)
	sameIDs(t, "by key ID", revoke(store.RevokeFilter{OrgID: orgA, AccessKeyID: mk[0].ID, Now: at1}), []string{mk[0].ID})
	k := state(mk[0].ID)
	if !k.Revoked || !k.RevokedAt.Equal(at1) || k.RevokedAt.Location() != time.UTC {
		t.Fatalf("revoked key: Revoked %v RevokedAt %v, want %v", k.Revoked, k.RevokedAt, at1)
	}
	want := mk[0]
	want.Revoked, want.RevokedAt = true, at1
	same(t, "revoked key keeps every claim", k, want)
	if k := state(mk[1].ID); k.Revoked || k.HasToken {
		t.Fatalf("sibling key: %+v", k)
	}
	sameIDs(t, "the same key again", revoke(store.RevokeFilter{OrgID: orgA, AccessKeyID: mk[0].ID, Now: t2200}), []string{})
	if k := state(mk[0].ID); !k.RevokedAt.Equal(at1) {
		t.Fatalf("second revocation moved RevokedAt to %v", k.RevokedAt)
	}
	sameIDs(t, "key ID of another org", revoke(store.RevokeFilter{OrgID: orgA, AccessKeyID: mk[5].ID, Now: t0}), []string{})
	sameIDs(t, "key ID cut at NUL", revoke(store.RevokeFilter{OrgID: orgA, AccessKeyID: "K-a2", Now: t0}), []string{})

	at2 := t1971.Add(time.Nanosecond) // a revocation time before issue is kept as given
	sameIDs(t, "by config", revoke(store.RevokeFilter{OrgID: orgA, ConfigID: c2, PrincipalName: alice, Now: at2}), []string{mk[1].ID})
	sameIDs(t, "by config, all principals", revoke(store.RevokeFilter{OrgID: orgA, ConfigID: c2, Now: t2200}), sorted([]string{mk[3].ID, mk[4].ID}))
	if k := state(mk[1].ID); !k.RevokedAt.Equal(at2) {
		t.Fatalf("RevokedAt %v, want %v", k.RevokedAt, at2)
	}
	if k := state(mk[4].ID); !k.Revoked || !k.RevokedAt.Equal(t2200) {
		t.Fatalf("expired key: %+v", k)
	}

	before := time.Now()
	sameIDs(t, "the rest of the org, Now zero", revoke(store.RevokeFilter{OrgID: orgA}), []string{mk[2].ID})
	after := time.Now()
	if k := state(mk[2].ID); k.RevokedAt.Before(before.Add(-time.Second)) || k.RevokedAt.After(after.Add(time.Second)) {
		t.Fatalf("zero Now: RevokedAt %v, not the current time (%v..%v)", k.RevokedAt, before, after)
	}
	sameIDs(t, "everything again", revoke(store.RevokeFilter{OrgID: orgA, Now: t0}), []string{})
	if k := state(mk[5].ID); k.Revoked {
		t.Fatal("another org's key revoked")
	}
	sameIDs(t, "org B by principal", revoke(store.RevokeFilter{OrgID: orgB, PrincipalName: alice, Now: t0}), []string{mk[5].ID})
	got, err := s.ListAccessKeys(ctx, store.AccessKeyFilter{OrgID: orgA, Status: "REVOKED", Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("revoked keys of org A: %q", ids(got, keyID))
	}
}
