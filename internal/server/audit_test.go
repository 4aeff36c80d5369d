package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/s3"
	"github.com/s3fed/s3fed/internal/store"
	"github.com/s3fed/s3fed/internal/store/teststore"
)

func countEvents(t *testing.T, st store.Store, org string) int {
	t.Helper()
	evs, err := st.ListEvents(context.Background(), store.EventFilter{OrgID: org, Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// TestAuditWriter: every logged S3 access event reaches the store; Sync
// returns only once everything logged before it is written (what the audit
// endpoint relies on), also past the back-pressure limit with many
// concurrent writers; Close writes what is still queued.
func TestAuditWriter(t *testing.T) { teststore.Each(t, testAuditWriter) }

func testAuditWriter(t *testing.T, b teststore.Backend) {
	ctx := context.Background()
	st := b.Open(t)
	w := newAuditWriter(st, slog.New(slog.NewTextHandler(io.Discard, nil)))

	w.Sync(ctx) // nothing queued: returns at once
	ev := func(org string, i int) s3.AccessEvent {
		return s3.AccessEvent{Time: time.Now(), OrgID: org, Action: "s3:GetObject", Resource: fmt.Sprintf("b/k%d", i), Decision: "allow", RequestID: fmt.Sprint(i)}
	}
	w.LogAccess(ctx, ev("one", 0))
	w.Sync(ctx)
	if n := countEvents(t, st, "one"); n != 1 {
		t.Fatalf("after Sync: %d events, want 1", n)
	}

	const writers, each = 40, 250 // 10,000 events: beyond auditMaxPending
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				w.LogAccess(ctx, ev("many", i))
			}
		}()
	}
	wg.Wait()
	w.Sync(ctx)
	if n := countEvents(t, st, "many"); n != writers*each {
		t.Fatalf("after Sync: %d events, want %d", n, writers*each)
	}

	for i := 0; i < 10; i++ {
		w.LogAccess(ctx, ev("last", i))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := countEvents(t, st, "last"); n != 10 {
		t.Fatalf("after Close: %d events, want 10", n)
	}
}
