package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/store"
)

// Just outside what a backend keeps.
var (
	tooEarly = store.MinTime.Add(-time.Nanosecond)
	tooLate  = store.MaxTime.Add(time.Nanosecond)
)

// mutant is a copy of a record with one field made unstorable.
type mutant[T any] struct {
	field string
	rec   T
}

// mutants returns, for every string, []byte, []string, map and time field
// of base (a struct), copies whose field holds invalid UTF-8 or a time out
// of range. Fields in skip are left alone. New fields of the store types
// are covered without editing the suite.
func mutants[T any](base T, skip ...string) []mutant[T] {
	var out []mutant[T]
	typ := reflect.TypeOf(base)
	for i := range typ.NumField() {
		f := typ.Field(i)
		if contains(skip, f.Name) {
			continue
		}
		add := func(label string, set func(f reflect.Value)) {
			c := deepCopy(reflect.ValueOf(base))
			set(c.Field(i))
			out = append(out, mutant[T]{label, c.Interface().(T)})
		}
		switch {
		case f.Type == timeType:
			add(f.Name+" too early", func(v reflect.Value) { v.Set(reflect.ValueOf(tooEarly)) })
			add(f.Name+" too late", func(v reflect.Value) { v.Set(reflect.ValueOf(tooLate)) })
		case f.Type.Kind() == reflect.String:
			for _, bad := range invalidUTF8 {
				add(fmt.Sprintf("%s %q", f.Name, bad), func(v reflect.Value) { v.SetString(v.String() + bad) })
			}
		case f.Type == reflect.TypeOf([]byte(nil)):
			add(f.Name, func(v reflect.Value) { v.SetBytes([]byte("{\"a\":\"\xff\"}")) })
		case f.Type == reflect.TypeOf([]string(nil)):
			add(f.Name, func(v reflect.Value) { v.Set(reflect.Append(v, reflect.ValueOf("ok\xc3"))) })
		case f.Type.Kind() == reflect.Map:
			add(f.Name+" key", func(v reflect.Value) {
				v.SetMapIndex(reflect.ValueOf("k\xff"), reflect.Zero(f.Type.Elem()))
			})
			add(f.Name+" value", func(v reflect.Value) {
				var val reflect.Value
				if f.Type.Elem().Kind() == reflect.String {
					val = reflect.ValueOf("v\xff")
				} else {
					val = reflect.ValueOf([]string{"ok", "v\xff"})
				}
				v.SetMapIndex(reflect.ValueOf("k"), val)
			})
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// deepCopy copies a struct value, its maps and slices included.
func deepCopy(v reflect.Value) reflect.Value {
	c := reflect.New(v.Type()).Elem()
	c.Set(v)
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Map:
			if f.IsNil() {
				c.Field(i).Set(reflect.MakeMap(f.Type()))
				continue
			}
			m := reflect.MakeMap(f.Type())
			for it := f.MapRange(); it.Next(); {
				m.SetMapIndex(it.Key(), it.Value())
			}
			c.Field(i).Set(m)
		case reflect.Slice:
			if !f.IsNil() {
				c.Field(i).Set(reflect.AppendSlice(reflect.MakeSlice(f.Type(), 0, f.Len()), f))
			}
		}
	}
	return c
}

// refused writes every mutant of base, committing whatever the write does,
// and requires ErrInvalid each time with nothing written (lookup of the
// mutant's key finds nothing); then base itself must write.
func refused[T any](t *testing.T, s store.Store, what string, base T, write func(store.Tx, T) error, lookup func(T) error, skip ...string) {
	t.Helper()
	ms := mutants(base, skip...)
	if len(ms) == 0 {
		t.Fatalf("%s: no field to test", what)
	}
	for _, m := range ms {
		var err error
		update(t, s, func(tx store.Tx) error {
			err = write(tx, m.rec)
			return nil // commit: a refused write must have written nothing
		})
		wantErr(t, what+": "+m.field, err, store.ErrInvalid)
		wantErr(t, what+": "+m.field+": lookup after a refused write", lookup(m.rec), store.ErrNotFound)
	}
	update(t, s, func(tx store.Tx) error { return write(tx, base) })
	if err := lookup(base); err != nil {
		t.Fatalf("%s: the valid record: %v", what, err)
	}
}

func testInvalidWrites(t *testing.T, s store.Store) {
	org := hostile("org")
	refused(t, s, "create org", store.Org{ID: org, Name: "n", Created: t0},
		func(tx store.Tx, o store.Org) error { return tx.CreateOrg(ctx, o) },
		func(o store.Org) error { _, err := s.GetOrg(ctx, o.ID); return err })
	refused(t, s, "put token", store.Token{ID: "tk", OrgID: org, Description: "d", Hash: "h", Created: t0},
		func(tx store.Tx, tk store.Token) error { return tx.PutToken(ctx, tk) },
		func(tk store.Token) error {
			_, err := s.GetToken(ctx, tk.ID)
			if err == nil || !errors.Is(err, store.ErrNotFound) {
				return err
			}
			_, err = s.GetTokenByHash(ctx, tk.Hash)
			return err
		})
	refused(t, s, "put root token", store.Token{ID: store.RootTokenID, Hash: "root-h", Created: t0},
		func(tx store.Tx, tk store.Token) error { return tx.PutToken(ctx, tk) },
		func(tk store.Token) error { _, err := s.GetTokenByHash(ctx, tk.Hash); return err }, "ID")
	cfg := store.Config{OrgID: org, ID: "cfg", Kind: "saml", Name: "n", Description: "d", IdPEntityID: "urn:idp",
		Certificates: []string{"pem"}, MaxDurationSeconds: 3600, Active: true, Created: t0, Updated: t0}
	refused(t, s, "create config", cfg,
		func(tx store.Tx, c store.Config) error { return tx.CreateConfig(ctx, c) },
		func(c store.Config) error { _, err := s.GetConfig(ctx, c.OrgID, c.ID); return err })
	// Updates of the config just written: refused, and the stored one unchanged.
	for _, m := range mutants(cfg, "OrgID", "ID") {
		var err error
		update(t, s, func(tx store.Tx) error { err = tx.UpdateConfig(ctx, m.rec); return nil })
		wantErr(t, "update config: "+m.field, err, store.ErrInvalid)
		got, gerr := s.GetConfig(ctx, cfg.OrgID, cfg.ID)
		if gerr != nil {
			t.Fatal(gerr)
		}
		same(t, "config after a refused update of "+m.field, got, cfg)
	}
	k := key(org, "AK", "saml/p", "cfg", t0, t0.Add(time.Hour))
	refused(t, s, "create access key", k,
		func(tx store.Tx, k store.AccessKey) error { return tx.CreateAccessKey(ctx, k) },
		func(k store.AccessKey) error { _, err := s.GetAccessKey(ctx, k.ID); return err }, "RevokedAt")
	refused(t, s, "put policy", store.Policy{OrgID: org, Name: "p", Document: doc("p"), Updated: t0},
		func(tx store.Tx, p store.Policy) error { return tx.PutPolicy(ctx, p) },
		func(p store.Policy) error { _, err := s.GetPolicy(ctx, p.OrgID, p.Name); return err })
	refused(t, s, "create bucket", store.Bucket{Name: "bk", OrgID: org, CreatedBy: "saml/p", Created: t0, Policy: doc("b")},
		func(tx store.Tx, b store.Bucket) error { return tx.CreateBucket(ctx, b) },
		func(b store.Bucket) error { _, err := s.GetBucket(ctx, b.Name); return err })

	var err error
	update(t, s, func(tx store.Tx) error { err = tx.SetBucketPolicy(ctx, "bk", []byte("{\"a\":\"\xff\"}")); return nil })
	wantErr(t, "set a bucket policy of invalid UTF-8", err, store.ErrInvalid)
	if b, err := s.GetBucket(ctx, "bk"); err != nil || string(b.Policy) != string(doc("b")) {
		t.Fatalf("bucket policy after a refused set: %q %v", b.Policy, err)
	}

	for _, now := range []time.Time{tooEarly, tooLate} {
		update(t, s, func(tx store.Tx) error {
			_, err = tx.RevokeAccessKeys(ctx, store.RevokeFilter{OrgID: org, Now: now})
			return nil
		})
		wantErr(t, fmt.Sprint("revoke at ", now), err, store.ErrInvalid)
		wantErr(t, fmt.Sprint("list keys at ", now), listKeysErr(s, store.AccessKeyFilter{OrgID: org, Now: now}), store.ErrInvalid)
		_, err = s.ListEvents(ctx, store.EventFilter{OrgID: org, Since: now})
		wantErr(t, fmt.Sprint("list events since ", now), err, store.ErrInvalid)
		_, err = s.Prune(ctx, now)
		wantErr(t, fmt.Sprint("prune before ", now), err, store.ErrInvalid)
		wantErr(t, fmt.Sprint("replay claim until ", now), s.ClaimReplay(ctx, "k", now, t0), store.ErrInvalid)
		wantErr(t, fmt.Sprint("replay claim at ", now), s.ClaimReplay(ctx, "k", t0, now), store.ErrInvalid)
		ev := event(org, "bad time", "p", now)
		wantErr(t, fmt.Sprint("event at ", now), s.AppendEvents(ctx, []store.Event{event(org, "good", "p", t0), ev}), store.ErrInvalid)
		update(t, s, func(tx store.Tx) error { err = tx.AppendEvent(ctx, ev); return nil })
		wantErr(t, fmt.Sprint("event in a transaction at ", now), err, store.ErrInvalid)
	}
	if k, err := s.GetAccessKey(ctx, "AK"); err != nil || k.Revoked {
		t.Fatalf("key after refused revocations: %+v %v", k, err)
	}
	if err := s.ClaimReplay(ctx, "k", t0.Add(time.Hour), t0); err != nil {
		t.Fatalf("replay key held by a refused claim: %v", err)
	}
	evs, err := s.ListEvents(ctx, store.EventFilter{OrgID: org})
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "events after refused appends (a batch is all or nothing)", ids(evs, eventAction), []string{})
}

func listKeysErr(s store.Store, f store.AccessKeyFilter) error {
	_, err := s.ListAccessKeys(ctx, f)
	return err
}

// testTimes: the bounds themselves are kept exactly, and every filter
// compares instants at the bounds.
func testTimes(t *testing.T, s store.Store) {
	lo, hi := store.MinTime, store.MaxTime
	if !lo.Before(time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)) || !hi.After(time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("time bounds %v .. %v narrower than documented", lo, hi)
	}
	orgs := []store.Org{{ID: "lo", Created: lo}, {ID: "hi", Created: hi}, {ID: "epoch", Created: tEpoch}, {ID: "zero"}}
	update(t, s, func(tx store.Tx) error {
		for _, o := range orgs {
			if err := tx.CreateOrg(ctx, o); err != nil {
				return err
			}
		}
		if err := tx.CreateAccessKey(ctx, key("o", "wide", "p", "c", lo, hi)); err != nil {
			return err
		}
		return tx.CreateAccessKey(ctx, key("o", "never", "p", "c", time.Time{}, time.Time{}))
	})
	for _, o := range orgs {
		got, err := s.GetOrg(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "org created at "+o.ID, got, o)
		if o.ID == "zero" != got.Created.IsZero() {
			t.Fatalf("org %s: Created %v", o.ID, got.Created)
		}
	}
	got, err := s.GetAccessKey(ctx, "never")
	if err != nil || !got.Issued.IsZero() || !got.Expiry.IsZero() {
		t.Fatalf("key with zero times: %+v %v", got, err)
	}
	for _, tc := range []struct {
		status string
		now    time.Time
		want   []string
	}{
		{"ACTIVE", hi.Add(-time.Nanosecond), []string{"wide"}},
		{"EXPIRED", hi, []string{"wide", "never"}},
		{"ACTIVE", lo, []string{"wide"}},
		{"EXPIRED", lo, []string{"never"}}, // a zero expiry is before every time
	} {
		l, err := s.ListAccessKeys(ctx, store.AccessKeyFilter{OrgID: "o", Status: tc.status, Now: tc.now})
		if err != nil {
			t.Fatal(err)
		}
		sameIDs(t, fmt.Sprint(tc.status, " at ", tc.now), ids(l, keyID), tc.want)
	}
	if err := s.ClaimReplay(ctx, "hi", hi, lo); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "claim held to MaxTime", s.ClaimReplay(ctx, "hi", hi, hi.Add(-time.Nanosecond)), store.ErrReplayed)
	if err := s.AppendEvents(ctx, []store.Event{{Time: lo, OrgID: "o", Action: "lo"}, {Time: hi, OrgID: "o", Action: "hi"}}); err != nil {
		t.Fatal(err)
	}
	for since, want := range map[time.Time][]string{lo: {"hi", "lo"}, hi: {"hi"}, tEpoch: {"hi"}} {
		evs, err := s.ListEvents(ctx, store.EventFilter{OrgID: "o", Since: since})
		if err != nil {
			t.Fatal(err)
		}
		sameIDs(t, fmt.Sprint("events since ", since), ids(evs, eventAction), want)
		if since == lo && (!evs[1].Time.Equal(lo) || !evs[0].Time.Equal(hi)) {
			t.Fatalf("event times at the bounds: %v %v", evs[1].Time, evs[0].Time)
		}
	}
	n, err := s.Prune(ctx, hi)
	if err != nil || n != 1 { // "never" (zero expiry); the replay claim and "wide" end at hi, not before
		t.Fatalf("prune at MaxTime: %d %v", n, err)
	}
}

func testRollback(t *testing.T, s store.Store) {
	boom := errors.New("boom")
	org := hostile("x")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateOrg(ctx, store.Org{ID: org, Name: "X", Created: t0}); err != nil {
			return err
		}
		if err := tx.PutToken(ctx, store.Token{ID: "t", OrgID: org, Hash: "h", Created: t0}); err != nil {
			return err
		}
		if err := tx.CreateAccessKey(ctx, key(org, "K", "p", "c", t0, t2200)); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, store.Event{OrgID: org, Action: "org.create"}); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, "update error", err, boom)
	_, err = s.GetOrg(ctx, org)
	wantErr(t, "org written despite rollback", err, store.ErrNotFound)
	_, err = s.GetTokenByHash(ctx, "h")
	wantErr(t, "token written despite rollback", err, store.ErrNotFound)
	_, err = s.GetAccessKey(ctx, "K")
	wantErr(t, "key written despite rollback", err, store.ErrNotFound)
	evs, err := s.ListEvents(ctx, store.EventFilter{OrgID: org})
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "events despite rollback", ids(evs, eventAction), []string{})

	// A store error inside the transaction rolls back what came before it.
	update(t, s, func(tx store.Tx) error { return tx.CreateOrg(ctx, store.Org{ID: "taken", Created: t0}) })
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateOrg(ctx, store.Org{ID: org, Created: t0}); err != nil {
			return err
		}
		return tx.CreateOrg(ctx, store.Org{ID: "taken", Created: t0})
	})
	wantErr(t, "duplicate inside a transaction", err, store.ErrAlreadyExists)
	_, err = s.GetOrg(ctx, org)
	wantErr(t, "org written before a failed write", err, store.ErrNotFound)
	// The store is usable afterwards.
	update(t, s, func(tx store.Tx) error { return tx.CreateOrg(ctx, store.Org{ID: org, Created: t0}) })
}

// testTxIsolation: a transaction sees its own writes; nobody else sees them
// before the commit.
func testTxIsolation(t *testing.T, s store.Store) {
	org := hostile("iso")
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateOrg(ctx, store.Org{ID: org, Name: "n", Created: t0}); err != nil {
			return err
		}
		if err := tx.PutPolicy(ctx, store.Policy{OrgID: org, Name: "p", Document: doc("p"), Updated: t0}); err != nil {
			return err
		}
		if _, err := tx.GetOrg(ctx, org); err != nil {
			return fmt.Errorf("own write: %w", err)
		}
		if l, err := tx.ListPolicies(ctx, org); err != nil || len(l) != 1 {
			return fmt.Errorf("own policy: %v %w", l, err)
		}
		if _, err := s.GetOrg(ctx, org); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("uncommitted org visible outside the transaction: %v", err)
		}
		return nil
	})
	if _, err := s.GetOrg(ctx, org); err != nil {
		t.Fatalf("committed org: %v", err)
	}
}

func testPrune(t *testing.T, s store.Store) {
	cut := t0
	claims := map[string]time.Time{"r-old": cut.Add(-time.Nanosecond), "r-edge": cut, "r-new": cut.Add(time.Hour), "r-1971": t1971}
	for k, until := range claims {
		if err := s.ClaimReplay(ctx, k, until, t1971.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	update(t, s, func(tx store.Tx) error {
		for _, k := range []store.AccessKey{
			key("a", "K-old", "p", "c", t1971, cut.Add(-time.Nanosecond)),
			key("a", "K-edge", "p", "c", t1971, cut),
			key("a", "K-new", "p", "c", t1971, cut.Add(time.Nanosecond)),
			key("b", "K-revoked-old", "p", "c", t1971, t1971.Add(time.Hour)),
			key("b", "K-revoked-new", "p", "c", t1971, t2200),
		} {
			if err := tx.CreateAccessKey(ctx, k); err != nil {
				return err
			}
		}
		_, err := tx.RevokeAccessKeys(ctx, store.RevokeFilter{OrgID: "b", Now: t0})
		return err
	})
	n, err := s.Prune(ctx, cut)
	if err != nil || n != 4 { // r-old, r-1971, K-old, K-revoked-old
		t.Fatalf("prune: %d %v, want 4", n, err)
	}
	for id, kept := range map[string]bool{"K-old": false, "K-edge": true, "K-new": true, "K-revoked-old": false, "K-revoked-new": true} {
		_, err := s.GetAccessKey(ctx, id)
		if kept && err != nil {
			t.Fatalf("%s pruned: %v", id, err)
		}
		if !kept {
			wantErr(t, id+" kept", err, store.ErrNotFound)
		}
	}
	// Pruned claims are free; kept ones still hold.
	now := cut.Add(-2 * time.Hour)
	for k, kept := range map[string]bool{"r-old": false, "r-1971": false, "r-edge": true, "r-new": true} {
		err := s.ClaimReplay(ctx, k, cut.Add(2*time.Hour), now)
		if kept {
			wantErr(t, k+" pruned", err, store.ErrReplayed)
		} else if err != nil {
			t.Fatalf("%s still held: %v", k, err)
		}
	}
	if n, err := s.Prune(ctx, t1971); err != nil || n != 0 {
		t.Fatalf("second prune: %d %v", n, err)
	}
}

func testPingClose(t *testing.T, s store.Store) {
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Fatal("ping after close: no error")
	}
	if _, err := s.GetOrg(ctx, "x"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("read after close: %v, want an error that is not ErrNotFound", err)
	}
}
