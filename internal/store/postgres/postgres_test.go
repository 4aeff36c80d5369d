package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"testing"

	"github.com/s3fed/s3fed/internal/store"
	"github.com/s3fed/s3fed/internal/store/postgres"
	"github.com/s3fed/s3fed/internal/store/storetest"
)

// baseDSN is the test server: the machine's PostgreSQL (trust auth,
// database test) unless S3FED_TEST_POSTGRES names another.
func baseDSN() string {
	if v := os.Getenv("S3FED_TEST_POSTGRES"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// freshSchema creates an empty schema and returns a DSN whose search_path
// points at it, so every conformance test starts from nothing.
func freshSchema(t *testing.T) string {
	t.Helper()
	admin, err := sql.Open("pgx", baseDSN())
	if err == nil {
		err = admin.PingContext(context.Background())
	}
	if err != nil {
		if os.Getenv("CI") != "true" {
			t.Skipf("PostgreSQL not reachable (%v); CI requires it", err)
		}
		t.Fatalf("PostgreSQL not reachable: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "s3fed_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		admin.Close()
	})
	return baseDSN() + "&search_path=" + schema
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), freshSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
