package s3

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingBuckets counts Owner calls to the store.
type countingBuckets struct {
	*memBuckets
	owners atomic.Int64
}

func (c *countingBuckets) Owner(ctx context.Context, b string) (BucketRecord, []byte, error) {
	c.owners.Add(1)
	return c.memBuckets.Owner(ctx, b)
}

func TestBucketCache(t *testing.T) {
	ctx := context.Background()
	inner := &countingBuckets{memBuckets: newMemBuckets()}
	c := NewBucketCache(inner, time.Minute)
	now := time.Unix(1_000_000, 0)
	c.now = func() time.Time { return now }

	if _, _, err := c.Owner(ctx, "b"); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatal(err)
	}
	if _, _, err := c.Owner(ctx, "b"); !errors.Is(err, ErrNoSuchBucket) || inner.owners.Load() != 1 {
		t.Errorf("missing bucket not cached: %v, %d lookups", err, inner.owners.Load())
	}
	if err := c.Create(ctx, BucketRecord{Name: "b", OrgID: "o"}); err != nil {
		t.Fatal(err)
	}
	rec, _, err := c.Owner(ctx, "b")
	if err != nil || rec.OrgID != "o" {
		t.Errorf("after create: %+v %v", rec, err)
	}
	if err := c.SetPolicy(ctx, "b", []byte(`{"p":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, pol, _ := c.Owner(ctx, "b"); string(pol) != `{"p":1}` {
		t.Errorf("policy after set: %s", pol)
	}
	n := inner.owners.Load()
	for range 10 {
		_, _, _ = c.Owner(ctx, "b")
	}
	if inner.owners.Load() != n {
		t.Errorf("fresh entries went to the store")
	}
	// A change made elsewhere shows after the TTL, or at once on Invalidate.
	_ = inner.memBuckets.SetPolicy(ctx, "b", []byte(`{"p":2}`))
	if _, pol, _ := c.Owner(ctx, "b"); string(pol) != `{"p":1}` {
		t.Errorf("cached policy: %s", pol)
	}
	now = now.Add(2 * time.Minute)
	if _, pol, _ := c.Owner(ctx, "b"); string(pol) != `{"p":2}` {
		t.Errorf("after TTL: %s", pol)
	}
	_ = inner.memBuckets.DeletePolicy(ctx, "b")
	c.Invalidate("b")
	if _, pol, _ := c.Owner(ctx, "b"); pol != nil {
		t.Errorf("after invalidate: %s", pol)
	}
	if err := c.DeletePolicy(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Owner(ctx, "b"); !errors.Is(err, ErrNoSuchBucket) {
		t.Errorf("after delete: %v", err)
	}
	c.InvalidateAll()
	if l, err := c.List(ctx, "o"); err != nil || len(l) != 0 {
		t.Errorf("list %v %v", l, err)
	}
}

// TestBucketCacheRace runs lookups against invalidations under -race.
func TestBucketCacheRace(t *testing.T) {
	ctx := context.Background()
	inner := newMemBuckets()
	_ = inner.Create(ctx, BucketRecord{Name: "b", OrgID: "o"})
	c := NewBucketCache(inner, time.Hour)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				if i == 0 && j%10 == 0 {
					_ = c.SetPolicy(ctx, "b", []byte{byte(j)})
					continue
				}
				if _, _, err := c.Owner(ctx, "b"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// After the last write through the cache, the cache agrees with the store.
	_, want, _ := inner.Owner(ctx, "b")
	if _, got, _ := c.Owner(ctx, "b"); string(got) != string(want) {
		t.Errorf("stale after concurrent writes: %v, want %v", got, want)
	}
}
