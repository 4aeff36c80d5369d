// Package teststore gives tests a fresh, empty state store of every kind
// s3fed runs on, so that the exchange, server and end-to-end tests run on
// SQLite and on PostgreSQL alike: a defect of one backend (PostgreSQL text
// refusing a NUL, say) then fails a test of the path a user takes, not only
// the store's own suite.
//
// PostgreSQL is the machine's server unless S3FED_TEST_POSTGRES names
// another (a DSN with trust or password auth). When it cannot be reached
// the PostgreSQL subtests skip, except under CI=true, where they fail.
package teststore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for schema set-up

	"github.com/s3fed/s3fed/internal/store"
	"github.com/s3fed/s3fed/internal/store/postgres"
	"github.com/s3fed/s3fed/internal/store/sqlite"
)

// Backend is a kind of state store.
type Backend string

// The backends s3fed supports.
const (
	SQLite   Backend = "sqlite"
	Postgres Backend = "postgres"
)

// Backends lists every backend the path tests run on.
func Backends() []Backend { return []Backend{SQLite, Postgres} }

// PoolSize is the connection pool of each PostgreSQL store a test opens:
// the server's 100 connections are shared by every test process on the
// machine, and a test needs few.
const PoolSize = 4

// Each runs fn as one subtest per backend, named after it.
func Each(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Helper()
	for _, b := range Backends() {
		t.Run(string(b), func(t *testing.T) { fn(t, b) })
	}
}

// Open returns a fresh, empty store of backend b, closed when the test
// ends.
func (b Backend) Open(t testing.TB) store.Store {
	t.Helper()
	var (
		s   store.Store
		err error
	)
	switch b {
	case SQLite:
		s, err = sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	case Postgres:
		s, err = postgres.Open(context.Background(), PostgresDSN(t))
	default:
		t.Fatalf("teststore: unknown backend %q", b)
	}
	if err != nil {
		t.Fatalf("open %s store: %v", b, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// DatabaseURL is what server.Config.DatabaseURL (and serve --database-url)
// takes for backend b: "" for SQLite in the data dir, else a fresh
// PostgreSQL schema.
func (b Backend) DatabaseURL(t testing.TB) string {
	t.Helper()
	if b == Postgres {
		return PostgresDSN(t)
	}
	return ""
}

// baseDSN is the test server: the machine's PostgreSQL (trust auth,
// database test) unless S3FED_TEST_POSTGRES names another.
func baseDSN() string {
	if v := os.Getenv("S3FED_TEST_POSTGRES"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// PostgresDSN creates an empty schema, dropped when the test ends, and
// returns a postgres:// URL whose search_path is that schema and whose pool
// is PoolSize connections. PostgreSQL unreachable skips the test, or fails
// it under CI=true.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	admin, err := sql.Open("pgx", baseDSN())
	if err == nil {
		err = admin.PingContext(context.Background())
	}
	if err != nil {
		if admin != nil {
			admin.Close()
		}
		if os.Getenv("CI") != "true" {
			t.Skipf("PostgreSQL not reachable (%v); CI requires it", err)
		}
		t.Fatalf("PostgreSQL not reachable: %v", err)
	}
	admin.SetMaxOpenConns(1)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "s3fed_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return WithParams(t, baseDSN(), "search_path", schema, postgres.MaxConnsParam, strconv.Itoa(PoolSize))
}

// WithParams returns the postgres:// URL dsn with query parameters set
// (name, value pairs).
func WithParams(t testing.TB, dsn string, kv ...string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || !strings.HasPrefix(u.Scheme, "postgres") {
		t.Fatalf("teststore: S3FED_TEST_POSTGRES must be a postgres:// URL (got %q)", dsn)
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}
