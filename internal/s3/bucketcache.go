package s3

import (
	"context"
	"errors"
	"sync"
	"time"
)

// MaxCachedBuckets bounds a BucketCache; when it is full the cache starts
// over rather than growing without limit.
const MaxCachedBuckets = 100_000

// BucketCache keeps bucket owners and policies in memory for a short TTL so
// that the S3 hot path does not ask the state store on every request
// (DESIGN.md: nothing on the hot path touches the database once warm).
// Changes made through the cache invalidate it at once; changes made by
// other replicas are seen after at most the TTL, or at once when the wiring
// calls Invalidate on a change notification (PostgreSQL LISTEN/NOTIFY).
// Missing buckets are cached too, so probing for names costs no queries.
type BucketCache struct {
	inner Buckets
	ttl   time.Duration
	now   func() time.Time

	mu      sync.RWMutex
	entries map[string]bucketEntry
	gen     uint64 // bumped by every invalidation
}

type bucketEntry struct {
	rec     BucketRecord
	policy  []byte
	missing bool
	expires time.Time
}

// NewBucketCache wraps inner with a cache whose entries live for ttl.
func NewBucketCache(inner Buckets, ttl time.Duration) *BucketCache {
	return &BucketCache{inner: inner, ttl: ttl, now: time.Now, entries: map[string]bucketEntry{}}
}

// Owner answers from the cache when fresh, else from the store. The returned
// policy slice is shared: callers must not modify it.
func (c *BucketCache) Owner(ctx context.Context, bucket string) (BucketRecord, []byte, error) {
	now := c.now()
	c.mu.RLock()
	e, ok := c.entries[bucket]
	gen := c.gen
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		if e.missing {
			return BucketRecord{}, nil, ErrNoSuchBucket
		}
		return e.rec, e.policy, nil
	}
	rec, pol, err := c.inner.Owner(ctx, bucket)
	missing := errors.Is(err, ErrNoSuchBucket)
	if err != nil && !missing {
		return rec, pol, err
	}
	c.mu.Lock()
	// An invalidation while the store was asked may have raced with this
	// read: keep the answer only when none happened.
	if c.gen == gen {
		if len(c.entries) >= MaxCachedBuckets {
			c.entries = map[string]bucketEntry{}
		}
		c.entries[bucket] = bucketEntry{rec: rec, policy: pol, missing: missing, expires: now.Add(c.ttl)}
	}
	c.mu.Unlock()
	return rec, pol, err
}

// Invalidate forgets one bucket, e.g. on a change notification from
// another replica.
func (c *BucketCache) Invalidate(bucket string) {
	c.mu.Lock()
	delete(c.entries, bucket)
	c.gen++
	c.mu.Unlock()
}

// InvalidateAll forgets every bucket (e.g. after a lost notification
// connection).
func (c *BucketCache) InvalidateAll() {
	c.mu.Lock()
	c.entries = map[string]bucketEntry{}
	c.gen++
	c.mu.Unlock()
}

// Create claims the name in the store and forgets any cached "missing".
func (c *BucketCache) Create(ctx context.Context, rec BucketRecord) error {
	defer c.Invalidate(rec.Name)
	return c.inner.Create(ctx, rec)
}

// Delete forgets the bucket in the store and the cache.
func (c *BucketCache) Delete(ctx context.Context, bucket string) error {
	defer c.Invalidate(bucket)
	return c.inner.Delete(ctx, bucket)
}

// List is not cached: ListBuckets is rare and must be exact.
func (c *BucketCache) List(ctx context.Context, orgID string) ([]BucketRecord, error) {
	return c.inner.List(ctx, orgID)
}

// SetPolicy stores the policy and invalidates the cached one.
func (c *BucketCache) SetPolicy(ctx context.Context, bucket string, policy []byte) error {
	defer c.Invalidate(bucket)
	return c.inner.SetPolicy(ctx, bucket, policy)
}

// DeletePolicy removes the policy and invalidates the cached one.
func (c *BucketCache) DeletePolicy(ctx context.Context, bucket string) error {
	defer c.Invalidate(bucket)
	return c.inner.DeletePolicy(ctx, bucket)
}

// SetPublicAccessBlock stores the configuration when the wrapped store
// keeps them (PublicAccessBlockStore) and invalidates the cached record.
func (c *BucketCache) SetPublicAccessBlock(ctx context.Context, bucket string, pab *PublicAccessBlock) error {
	ps, ok := c.inner.(PublicAccessBlockStore)
	if !ok {
		return ErrPublicAccessBlockUnsupported
	}
	defer c.Invalidate(bucket)
	return ps.SetPublicAccessBlock(ctx, bucket, pab)
}
