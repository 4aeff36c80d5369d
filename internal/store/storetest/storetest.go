// Package storetest is the conformance suite every store backend must pass
// unchanged. A backend's test calls Run with a constructor for a fresh,
// empty store.
//
// The suite is the bar a backend is held to, so it stores what production
// stores at its worst: IDs, names and keys holding NUL and other control
// bytes, quotes, backslashes, SQL and bytea metacharacters, non-ASCII text,
// bidi controls and strings kilobytes long; times in 1971 and 2200 to the
// nanosecond; and it asserts every error, every filter field and every
// boundary of the store.Store contract (see the package doc of store).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
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
		{"AccessKeyFilters", testAccessKeyFilters},
		{"Revoke", testRevoke},
		{"Replay", testReplay},
		{"ReplayKeys", testReplayKeys},
		{"ReplayConcurrent", testReplayConcurrent},
		{"ReplayConcurrentExpired", testReplayConcurrentExpired},
		{"Policies", testPolicies},
		{"PoliciesConcurrentPut", testPoliciesConcurrentPut},
		{"Buckets", testBuckets},
		{"Events", testEvents},
		{"EventFilters", testEventFilters},
		{"EventText", testEventText},
		{"Times", testTimes},
		{"InvalidWrites", testInvalidWrites},
		{"RollbackOnError", testRollback},
		{"TxIsolation", testTxIsolation},
		{"Prune", testPrune},
		{"PingClose", testPingClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

var ctx = context.Background()

// Times far from today, to the nanosecond, and one not in UTC.
var (
	t0    = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	t1971 = time.Date(1971, 2, 3, 4, 5, 6, 123456789, time.UTC)
	t2200 = time.Date(2200, 12, 31, 23, 59, 59, 999999999, time.UTC)
	// tEpoch is the instant a naive "0 means no time" encoding loses.
	tEpoch = time.Unix(0, 0).UTC()
	tIndia = time.Date(2026, 7, 8, 9, 10, 11, 12, time.FixedZone("IST", 5*3600+1800))
)

// hostile returns a realistic worst case for a stored string, unique per
// tag: a NUL (PostgreSQL text cannot hold it), other control bytes, quotes,
// a backslash sequence bytea's text format would decode, SQL LIKE and
// separator characters, combining and astral characters and a bidi
// override (U+202E). A backend that truncates, escapes, normalises, folds
// or refuses any of it fails.
func hostile(tag string) string {
	return tag + "\x00nul\x01\x1f\x7f\t\n\r 'q' \"dq\" \\x41 \\\\ %_|;: é e\u0301 İ ß 😀 \u202eevil\u202c ﬃ"
}

// long is a hostile string of about 6 KiB.
func long(tag string) string { return tag + strings.Repeat(hostile("/")+"ü", 64) }

// invalidUTF8 are strings no backend may keep as text: a stray byte, a
// truncated sequence, a UTF-16 surrogate and an overlong NUL.
var invalidUTF8 = []string{"\xff", "ok\xc3", "\xed\xa0\x80", "\xc0\x80"}

// update runs fn in a transaction that must commit.
func update(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

// wantErr fails unless err is (or wraps) target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// updateErr runs fn in a transaction that must fail with target.
func updateErr(t *testing.T, s store.Store, what string, target error, fn func(store.Tx) error) {
	t.Helper()
	wantErr(t, what, s.Update(ctx, fn), target)
}

// same fails unless got and want are deeply equal once times are compared
// as instants (want's may be in another zone; got's must be UTC).
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	checkUTC(t, what, reflect.ValueOf(got))
	if g, w := normTimes(got), normTimes(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s: differs in %s", what, diff(reflect.ValueOf(g), reflect.ValueOf(w)))
	}
}

// diff names the struct fields that differ, with short renderings: the
// suite's values are kilobytes long.
func diff(g, w reflect.Value) string {
	if g.Kind() != reflect.Struct || g.Type() == timeType {
		return fmt.Sprintf("got %s, want %s", short(g.Interface()), short(w.Interface()))
	}
	var out []string
	for i := range g.NumField() {
		if !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
			out = append(out, g.Type().Field(i).Name+" ("+diff(g.Field(i), w.Field(i))+")")
		}
	}
	return strings.Join(out, "; ")
}

// short renders v in at most about 120 bytes.
func short(v any) string {
	s := fmt.Sprintf("%#v", v)
	if len(s) > 120 {
		s = fmt.Sprintf("%s…(%d bytes)…%s", s[:60], len(s), s[len(s)-50:])
	}
	return s
}

var timeType = reflect.TypeOf(time.Time{})

// normTimes returns a copy of v with every time.Time in UTC without a
// monotonic reading, and empty slices and maps made nil (the contract does
// not distinguish them).
func normTimes(v any) any {
	rv := reflect.ValueOf(v)
	out := reflect.New(rv.Type()).Elem()
	normValue(out, rv)
	return out.Interface()
}

func normValue(dst, src reflect.Value) {
	switch {
	case src.Type() == timeType:
		dst.Set(reflect.ValueOf(src.Interface().(time.Time).UTC().Round(0)))
	case src.Kind() == reflect.Struct:
		for i := range src.NumField() {
			normValue(dst.Field(i), src.Field(i))
		}
	case src.Kind() == reflect.Slice && src.Type().Elem().Kind() != reflect.Uint8:
		if src.Len() == 0 {
			return
		}
		dst.Set(reflect.MakeSlice(src.Type(), src.Len(), src.Len()))
		for i := range src.Len() {
			normValue(dst.Index(i), src.Index(i))
		}
	case src.Kind() == reflect.Slice:
		if src.Len() == 0 {
			return
		}
		dst.Set(src)
	case src.Kind() == reflect.Map:
		if src.Len() == 0 {
			return
		}
		dst.Set(src)
	default:
		dst.Set(src)
	}
}

// checkUTC fails if a time read from the store is not in UTC.
func checkUTC(t *testing.T, what string, v reflect.Value) {
	t.Helper()
	switch {
	case v.Type() == timeType:
		if tm := v.Interface().(time.Time); !tm.IsZero() && tm.Location() != time.UTC {
			t.Fatalf("%s: time %v is not in UTC", what, tm)
		}
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			checkUTC(t, what, v.Field(i))
		}
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Uint8:
		for i := range v.Len() {
			checkUTC(t, what, v.Index(i))
		}
	}
}

// ids returns the IDs of a list in order.
func ids[T any](list []T, id func(T) string) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = id(v)
	}
	return out
}

// sorted returns a sorted copy (byte order, as the store must sort).
func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil list, want an empty one", what)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got  %s\n want %s", what, shortList(got), shortList(want))
	}
}

func shortList(l []string) string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = short(s)
	}
	return "[" + strings.Join(out, ", ") + "]"
}

func orgID(o store.Org) string         { return o.ID }
func tokenID(tk store.Token) string    { return tk.ID }
func configID(c store.Config) string   { return c.ID }
func keyID(k store.AccessKey) string   { return k.ID }
func policyName(p store.Policy) string { return p.Name }
func bucketName(b store.Bucket) string { return b.Name }
func eventAction(e store.Event) string { return e.Action }

// nearDuplicates are IDs that a backend which truncates at NUL, trims
// spaces, folds case or normalises Unicode would confuse.
var nearDuplicates = []string{"x", "x\x00", "x\x00y", "x ", "X", "é", "e\u0301", "İ", "i̇"}

func testOrgs(t *testing.T, s store.Store) {
	orgs := []store.Org{
		{ID: hostile("b"), Name: long("B"), Created: t1971},
		{ID: hostile("a"), Name: hostile("name"), Created: t2200},
		{ID: long("l"), Name: "", Created: tEpoch},
		{ID: "zero-time", Name: "z"},
		{ID: "india", Name: "Bhārat", Created: tIndia},
	}
	for i, id := range nearDuplicates {
		orgs = append(orgs, store.Org{ID: id, Name: fmt.Sprint("near-", i), Created: t0})
	}
	update(t, s, func(tx store.Tx) error {
		for _, o := range orgs {
			if err := tx.CreateOrg(ctx, o); err != nil {
				return fmt.Errorf("create %q: %w", o.ID, err)
			}
			// Read-your-writes inside the transaction.
			if got, err := tx.GetOrg(ctx, o.ID); err != nil || got.Name != o.Name {
				return fmt.Errorf("read own write %q: %+v %w", o.ID, got, err)
			}
		}
		return nil
	})
	for _, o := range orgs {
		got, err := s.GetOrg(ctx, o.ID)
		if err != nil {
			t.Fatalf("get org %q: %v", o.ID, err)
		}
		same(t, "org "+short(o.ID), got, o)
	}
	if got, _ := s.GetOrg(ctx, "zero-time"); !got.Created.IsZero() {
		t.Fatalf("zero Created came back as %v", got.Created)
	}
	updateErr(t, s, "duplicate org", store.ErrAlreadyExists, func(tx store.Tx) error {
		return tx.CreateOrg(ctx, store.Org{ID: hostile("a"), Name: "again", Created: t0})
	})
	for _, id := range append([]string{"x\x00z", "", hostile("c"), "zz"}, invalidUTF8...) {
		_, err := s.GetOrg(ctx, id)
		wantErr(t, fmt.Sprintf("get missing org %q", id), err, store.ErrNotFound)
	}
	list, err := s.ListOrgs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "list orgs (byte order)", ids(list, orgID), sorted(ids(orgs, orgID)))
	for _, o := range list {
		if o.ID == hostile("b") {
			same(t, "listed org", o, orgs[0])
		}
	}
}

func testTokens(t *testing.T, s store.Store) {
	orgA, orgB := hostile("org-a"), hostile("org-b")
	root1 := store.Token{ID: store.RootTokenID, Hash: hostile("h-root-1"), Created: t1971}
	root2 := store.Token{ID: store.RootTokenID, Hash: hostile("h-root-2"), Description: hostile("root"), Created: t2200}
	t1 := store.Token{ID: hostile("t1"), OrgID: orgA, Description: long("ci"), Hash: hostile("h1"), Created: t2200}
	t2 := store.Token{ID: hostile("t2"), OrgID: orgA, Hash: hostile("h2"), Created: t1971}
	t3 := store.Token{ID: hostile("t0"), OrgID: orgA, Hash: hostile("h3"), Created: t1971} // same Created: ID decides
	tb := store.Token{ID: hostile("tb"), OrgID: orgB, Hash: hostile("hb"), Created: tIndia}
	update(t, s, func(tx store.Tx) error {
		for _, tk := range []store.Token{root1, root2, t1, t2, t3, tb} {
			if err := tx.PutToken(ctx, tk); err != nil {
				return fmt.Errorf("put %q: %w", tk.ID, err)
			}
		}
		return nil
	})
	_, err := s.GetTokenByHash(ctx, root1.Hash)
	wantErr(t, "replaced root hash", err, store.ErrNotFound)
	for _, tk := range []store.Token{root2, t1, t2, t3, tb} {
		got, err := s.GetToken(ctx, tk.ID)
		if err != nil {
			t.Fatalf("get token %q: %v", tk.ID, err)
		}
		same(t, "token by id", got, tk)
		got, err = s.GetTokenByHash(ctx, tk.Hash)
		if err != nil {
			t.Fatalf("get token by hash %q: %v", tk.Hash, err)
		}
		same(t, "token by hash", got, tk)
	}
	for _, h := range append([]string{"h1", hostile("h1") + "x", hostile("h"), ""}, invalidUTF8...) {
		_, err := s.GetTokenByHash(ctx, h)
		wantErr(t, fmt.Sprintf("unknown hash %q", h), err, store.ErrNotFound)
	}
	_, err = s.GetToken(ctx, "t1")
	wantErr(t, "unknown token id", err, store.ErrNotFound)
	updateErr(t, s, "duplicate token id", store.ErrAlreadyExists, func(tx store.Tx) error {
		return tx.PutToken(ctx, store.Token{ID: t1.ID, OrgID: orgA, Hash: "fresh", Created: t0})
	})
	updateErr(t, s, "duplicate token hash", store.ErrAlreadyExists, func(tx store.Tx) error {
		return tx.PutToken(ctx, store.Token{ID: "fresh", OrgID: orgB, Hash: t1.Hash, Created: t0})
	})
	updateErr(t, s, "a token taking the root's hash", store.ErrAlreadyExists, func(tx store.Tx) error {
		return tx.PutToken(ctx, store.Token{ID: "fresh", OrgID: orgB, Hash: root2.Hash, Created: t0})
	})
	list, err := s.ListTokens(ctx, orgA)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "list tokens (created, then ID)", ids(list, tokenID), []string{t3.ID, t2.ID, t1.ID})
	same(t, "listed token", list[2], t1)
	list, err = s.ListTokens(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "list tokens of no org: never the root", ids(list, tokenID), []string{})
	list, err = s.ListTokens(ctx, "org-a")
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "list tokens of a prefix org", ids(list, tokenID), []string{})

	updateErr(t, s, "delete through another org", store.ErrNotFound, func(tx store.Tx) error { return tx.DeleteToken(ctx, orgB, t1.ID) })
	updateErr(t, s, "delete the root token", store.ErrNotFound, func(tx store.Tx) error { return tx.DeleteToken(ctx, "", store.RootTokenID) })
	updateErr(t, s, "delete a missing token", store.ErrNotFound, func(tx store.Tx) error { return tx.DeleteToken(ctx, orgA, hostile("t9")) })
	if _, err := s.GetTokenByHash(ctx, root2.Hash); err != nil {
		t.Fatalf("root token gone after refused deletes: %v", err)
	}
	update(t, s, func(tx store.Tx) error { return tx.DeleteToken(ctx, orgA, t1.ID) })
	_, err = s.GetTokenByHash(ctx, t1.Hash)
	wantErr(t, "deleted token by hash", err, store.ErrNotFound)
	_, err = s.GetToken(ctx, t1.ID)
	wantErr(t, "deleted token by id", err, store.ErrNotFound)
	updateErr(t, s, "delete twice", store.ErrNotFound, func(tx store.Tx) error { return tx.DeleteToken(ctx, orgA, t1.ID) })
	if got, err := s.GetToken(ctx, t2.ID); err != nil || got.Hash != t2.Hash {
		t.Fatalf("sibling token after delete: %+v %v", got, err)
	}
	// A deleted token's hash and ID are free again.
	update(t, s, func(tx store.Tx) error {
		return tx.PutToken(ctx, store.Token{ID: t1.ID, OrgID: orgB, Hash: t1.Hash, Created: t0})
	})
}

func testConfigs(t *testing.T, s store.Store) {
	orgA, orgB := hostile("org-a"), hostile("org-b")
	pem := "-----BEGIN CERTIFICATE-----\nMIIB\x00" + hostile("pem") + "\n-----END CERTIFICATE-----\n"
	c1 := store.Config{OrgID: orgA, ID: hostile("c1"), Kind: "saml", Name: long("okta"), Description: hostile("desc"),
		IdPEntityID: long("https://idp.example.com/realms/"), Certificates: []string{pem, hostile("second")},
		MaxDurationSeconds: 43200, Active: true, Created: t1971, Updated: t2200}
	c0 := store.Config{OrgID: orgA, ID: hostile("c0"), Kind: "oidc", Name: "entra", Created: t1971, Updated: t1971}
	c2 := store.Config{OrgID: orgA, ID: "c2", Kind: "saml", Name: "later", IdPEntityID: "urn:x", Created: t2200, Updated: t2200}
	cB := c1
	cB.OrgID, cB.Name, cB.Certificates = orgB, "org b's, same ID", nil
	update(t, s, func(tx store.Tx) error {
		for _, c := range []store.Config{c1, c0, c2, cB} {
			if err := tx.CreateConfig(ctx, c); err != nil {
				return fmt.Errorf("create %q: %w", c.ID, err)
			}
		}
		return nil
	})
	for _, c := range []store.Config{c1, c0, c2, cB} {
		got, err := s.GetConfig(ctx, c.OrgID, c.ID)
		if err != nil {
			t.Fatalf("get config %q: %v", c.ID, err)
		}
		same(t, "config", got, c)
	}
	updateErr(t, s, "duplicate config", store.ErrAlreadyExists, func(tx store.Tx) error {
		return tx.CreateConfig(ctx, store.Config{OrgID: orgA, ID: c1.ID, Kind: "oidc", Name: "again", Created: t0})
	})
	for _, k := range [][2]string{{"org-a", c1.ID}, {orgA, "c1"}, {orgA + "\x00", c1.ID}, {hostile("org-c"), c1.ID}, {orgA, "\xff"}} {
		_, err := s.GetConfig(ctx, k[0], k[1])
		wantErr(t, fmt.Sprintf("get config %q/%q", k[0], k[1]), err, store.ErrNotFound)
	}
	list, err := s.ListConfigs(ctx, orgA)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "list configs (created, then ID)", ids(list, configID), []string{c0.ID, c1.ID, c2.ID})
	same(t, "listed config", list[1], c1)
	list, err = s.ListConfigs(ctx, hostile("org-c"))
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "configs of an org with none", ids(list, configID), []string{})

	u := c1
	u.Name, u.Description, u.Certificates, u.Active, u.MaxDurationSeconds, u.Updated = hostile("renamed"), "", []string{pem}, false, 900, t0
	update(t, s, func(tx store.Tx) error { return tx.UpdateConfig(ctx, u) })
	got, err := s.GetConfig(ctx, orgA, c1.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "updated config", got, u)
	if got, _ := s.GetConfig(ctx, orgB, c1.ID); got.Name != cB.Name || !got.Active {
		t.Fatalf("update reached another org's config of the same ID: %+v", got)
	}
	missing := u
	missing.ID = hostile("c9")
	updateErr(t, s, "update a missing config", store.ErrNotFound, func(tx store.Tx) error { return tx.UpdateConfig(ctx, missing) })
	missing = c2
	missing.OrgID = orgB
	updateErr(t, s, "update through another org", store.ErrNotFound, func(tx store.Tx) error { return tx.UpdateConfig(ctx, missing) })

	updateErr(t, s, "delete through another org", store.ErrNotFound, func(tx store.Tx) error { return tx.DeleteConfig(ctx, orgB, c2.ID) })
	update(t, s, func(tx store.Tx) error { return tx.DeleteConfig(ctx, orgA, c1.ID) })
	_, err = s.GetConfig(ctx, orgA, c1.ID)
	wantErr(t, "deleted config", err, store.ErrNotFound)
	updateErr(t, s, "double delete", store.ErrNotFound, func(tx store.Tx) error { return tx.DeleteConfig(ctx, orgA, c1.ID) })
	if _, err := s.GetConfig(ctx, orgB, c1.ID); err != nil {
		t.Fatalf("another org's config of the same ID deleted: %v", err)
	}
}
