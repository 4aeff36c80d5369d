package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/store"
	"github.com/s3fed/s3fed/internal/store/postgres"
	"github.com/s3fed/s3fed/internal/store/sqlite"
	"github.com/s3fed/s3fed/internal/store/sqlstore"
	"github.com/s3fed/s3fed/internal/store/teststore"
)

// v1Rows is state as the first schema held it: text columns, 0 for "no
// time", replay keys with NUL separators (SQLite only: PostgreSQL text
// refused them, which is what migration 2 fixes).
var v1Rows = []string{
	`INSERT INTO orgs (id, name, created) VALUES ('b', 'B', 0), ('a', 'Ä', 123), ('B', 'upper', 1)`,
	`INSERT INTO tokens (id, org_id, description, hash, created) VALUES ('root', '', '', 'h-root', 5), ('t1', 'a', 'ci', 'h1', 0)`,
	`INSERT INTO configs (org_id, id, kind, name, body, created) VALUES ('a', 'c1', 'saml', 'okta',
		'{"orgId":"a","configId":"c1","kind":"saml","name":"okta","idpEntityId":"urn:idp","maxDurationSeconds":3600,"active":true,"created":"2026-01-02T03:04:05Z","updated":"2026-01-02T03:04:05Z"}', 99)`,
	`INSERT INTO access_keys (id, org_id, config_id, principal_name, body, issued, expiry, revoked_at) VALUES
		('K1', 'a', 'c1', 'saml/alice', '{"accessKeyId":"K1","orgId":"a","configId":"c1","provider":"saml","subject":"alice","principalName":"saml/alice","role":"r","issued":"2026-01-02T03:04:05Z","expiry":"2200-01-01T00:00:00Z","revoked":false,"hasToken":true}', 1767323045000000000, 7258118400000000000, 0),
		('K2', 'a', 'c1', 'saml/bob', '{"accessKeyId":"K2","orgId":"a","configId":"c1","provider":"saml","subject":"bob","principalName":"saml/bob","role":"r","issued":"2026-01-02T03:04:05Z","expiry":"2200-01-01T00:00:00Z","revoked":false}', 1767323045000000000, 7258118400000000000, 555)`,
	`INSERT INTO replay (k, until_ns) VALUES ('old-claim', 7258118400000000000)`,
	`INSERT INTO policies (org_id, name, document, updated) VALUES ('a', 'p', '{"v":"é"}', 9)`,
	`INSERT INTO buckets (name, org_id, created_by, created, policy) VALUES ('bk', 'a', 'saml/alice', 8, ''), ('bk2', 'a', '', 0, '{}')`,
	`INSERT INTO events (id, time_ns, org_id, principal_name, body) VALUES
		(1, 10, 'a', 'saml/alice', '{"id":0,"time":"1970-01-01T00:00:00.00000001Z","orgId":"a","kind":"s3","action":"one","outcome":"Allow","principalName":"saml/alice"}'),
		(7, 20, 'a', '', '{"id":0,"time":"1970-01-01T00:00:00.00000002Z","orgId":"a","kind":"admin","action":"seven","outcome":"success"}')`,
}

// TestUpgradeFromV1 fills a database at schema version 1 and opens it with
// this binary: every row must read back as it was written, and the store
// must work as a fresh one does.
func TestUpgradeFromV1(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		ctx := context.Background()
		raw, d, open := rawDB(t, b)
		if err := sqlstore.NewAtVersion(ctx, raw, d, 1); err != nil {
			t.Fatal(err)
		}
		rows := v1Rows
		if b == teststore.SQLite {
			rows = append(rows, "INSERT INTO replay (k, until_ns) VALUES ('saml'||char(0)||'urn:idp'||char(0)||'_a1', 7258118400000000000)")
		}
		for _, q := range rows {
			if _, err := raw.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		raw.Close()
		s := open()

		orgs, err := s.ListOrgs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range orgs {
			got = append(got, o.ID+"/"+o.Name+"/"+o.Created.Format(time.RFC3339Nano))
		}
		want := []string{"B/upper/1970-01-01T00:00:00.000000001Z", "a/Ä/1970-01-01T00:00:00.000000123Z", "b/B/0001-01-01T00:00:00Z"}
		if !slices.Equal(got, want) {
			t.Fatalf("orgs after upgrade:\n got  %q\n want %q", got, want)
		}
		if tk, err := s.GetTokenByHash(ctx, "h-root"); err != nil || tk.ID != store.RootTokenID || !tk.Created.Equal(time.Unix(0, 5)) {
			t.Fatalf("root token: %+v %v", tk, err)
		}
		if tk, err := s.GetTokenByHash(ctx, "h1"); err != nil || tk.OrgID != "a" || tk.Description != "ci" || !tk.Created.IsZero() {
			t.Fatalf("org token: %+v %v", tk, err)
		}
		if l, err := s.ListTokens(ctx, "a"); err != nil || len(l) != 1 {
			t.Fatalf("list tokens: %+v %v", l, err)
		}
		if c, err := s.GetConfig(ctx, "a", "c1"); err != nil || c.IdPEntityID != "urn:idp" || !c.Active {
			t.Fatalf("config: %+v %v", c, err)
		}
		if k, err := s.GetAccessKey(ctx, "K1"); err != nil || k.Revoked || !k.RevokedAt.IsZero() || !k.HasToken {
			t.Fatalf("unrevoked key: %+v %v", k, err)
		}
		if k, err := s.GetAccessKey(ctx, "K2"); err != nil || !k.Revoked || !k.RevokedAt.Equal(time.Unix(0, 555)) {
			t.Fatalf("revoked key: %+v %v", k, err)
		}
		for status, want := range map[string][]string{"ACTIVE": {"K1"}, "REVOKED": {"K2"}} {
			l, err := s.ListAccessKeys(ctx, store.AccessKeyFilter{OrgID: "a", Status: status, Now: time.Now()})
			if err != nil || len(l) != len(want) || l[0].ID != want[0] {
				t.Fatalf("%s keys: %+v %v", status, l, err)
			}
		}
		if p, err := s.GetPolicy(ctx, "a", "p"); err != nil || string(p.Document) != `{"v":"é"}` || !p.Updated.Equal(time.Unix(0, 9)) {
			t.Fatalf("policy: %+v %v", p, err)
		}
		if bk, err := s.GetBucket(ctx, "bk"); err != nil || bk.Policy != nil || bk.CreatedBy != "saml/alice" {
			t.Fatalf("bucket: %+v %v", bk, err)
		}
		if bk, err := s.GetBucket(ctx, "bk2"); err != nil || string(bk.Policy) != "{}" || !bk.Created.IsZero() {
			t.Fatalf("bucket with policy: %+v %v", bk, err)
		}
		evs, err := s.ListEvents(ctx, store.EventFilter{OrgID: "a", Since: time.Unix(0, 15)})
		if err != nil || len(evs) != 1 || evs[0].ID != 7 || evs[0].Action != "seven" {
			t.Fatalf("events since: %+v %v", evs, err)
		}
		// New events number after the old ones.
		if err := s.AppendEvents(ctx, []store.Event{{OrgID: "a", Action: "new"}}); err != nil {
			t.Fatal(err)
		}
		evs, err = s.ListEvents(ctx, store.EventFilter{OrgID: "a", PrincipalName: ""})
		if err != nil || len(evs) != 3 || evs[0].Action != "new" || evs[0].ID <= 7 {
			t.Fatalf("events after an append: %+v %v", evs, err)
		}
		// The store takes what v1 could not hold.
		if err := s.Update(ctx, func(tx store.Tx) error {
			return tx.CreateOrg(ctx, store.Org{ID: "nul\x00org", Name: "n\x00"})
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.ClaimReplay(ctx, "k\x00", time.Now().Add(time.Hour), time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := s.ClaimReplay(ctx, "k\x00", time.Now().Add(time.Hour), time.Now()); !errors.Is(err, store.ErrReplayed) {
			t.Fatalf("second claim: %v", err)
		}
	})
}

// rawDB opens an empty database of backend b without migrating it, and a
// function that opens it as the store.
func rawDB(t *testing.T, b teststore.Backend) (*sql.DB, sqlstore.Dialect, func() store.Store) {
	t.Helper()
	ctx := context.Background()
	var (
		raw  *sql.DB
		err  error
		d    sqlstore.Dialect
		open func() (store.Store, error)
	)
	switch b {
	case teststore.SQLite:
		path := filepath.Join(t.TempDir(), "state.db")
		raw, err = sql.Open("sqlite", "file:"+path)
		d = sqlite.Dialect
		open = func() (store.Store, error) { return sqlite.Open(ctx, path) }
	case teststore.Postgres:
		dsn := teststore.PostgresDSN(t)
		u, _ := url.Parse(dsn)
		q := u.Query()
		q.Del(postgres.MaxConnsParam)
		u.RawQuery = q.Encode()
		raw, err = sql.Open("pgx", u.String())
		d = postgres.Dialect
		open = func() (store.Store, error) { return postgres.Open(ctx, dsn) }
	}
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	t.Cleanup(func() { raw.Close() })
	return raw, d, func() store.Store {
		t.Helper()
		s, err := open()
		if err != nil {
			t.Fatalf("open after upgrade: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

// TestConcurrentMigration: replicas starting together on one empty
// database all open it, each migration applied once.
func TestConcurrentMigration(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		ctx := context.Background()
		var open func() (store.Store, error)
		switch b {
		case teststore.SQLite:
			path := filepath.Join(t.TempDir(), "state.db")
			open = func() (store.Store, error) { return sqlite.Open(ctx, path) }
		case teststore.Postgres:
			dsn := teststore.PostgresDSN(t)
			open = func() (store.Store, error) { return postgres.Open(ctx, dsn) }
		}
		const n = 4
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				s, err := open()
				if err == nil {
					err = s.Update(ctx, func(tx store.Tx) error {
						return tx.CreateOrg(ctx, store.Org{ID: string(rune('a' + i))})
					})
					s.Close()
				}
				errs[i] = err
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
		}
	})
}
