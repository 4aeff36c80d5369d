package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/s3fed/s3fed/internal/store"
	"github.com/s3fed/s3fed/internal/store/postgres"
	"github.com/s3fed/s3fed/internal/store/storetest"
	"github.com/s3fed/s3fed/internal/store/teststore"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return teststore.Postgres.Open(t) })
}

// TestPoolSize checks pool_max_conns sizes the pool and is not sent to the
// server (which would refuse an unknown setting), and that a bad value is
// refused before connecting.
func TestPoolSize(t *testing.T) {
	ctx := context.Background()
	dsn := teststore.PostgresDSN(t)
	s, err := postgres.Open(ctx, teststore.WithParams(t, dsn, postgres.MaxConnsParam, "2"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Stats().MaxOpenConnections; got != 2 {
		t.Fatalf("max open connections %d, want 2", got)
	}
	for _, bad := range []string{"0", "-1", "many", "1001"} {
		_, err := postgres.Open(ctx, teststore.WithParams(t, dsn, postgres.MaxConnsParam, bad))
		if err == nil || !strings.Contains(err.Error(), postgres.MaxConnsParam) {
			t.Errorf("%s=%s: %v, want a refusal naming the parameter", postgres.MaxConnsParam, bad, err)
		}
	}
}
