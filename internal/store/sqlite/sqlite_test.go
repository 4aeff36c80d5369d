package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/s3fed/s3fed/internal/store"
	"github.com/s3fed/s3fed/internal/store/sqlite"
	"github.com/s3fed/s3fed/internal/store/storetest"
	"github.com/s3fed/s3fed/internal/store/teststore"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return teststore.SQLite.Open(t) })
}

// TestReopen checks the schema is migrated once and data survives a reopen.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateOrg(ctx, store.Org{ID: "a", Name: "A"}) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if _, err := s.GetOrg(ctx, "a"); err != nil {
		t.Fatalf("org lost across reopen: %v", err)
	}
}
