package creds_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/creds"
	"github.com/s3fed/s3fed/internal/store"
	"github.com/s3fed/s3fed/internal/store/teststore"
)

// pausingSource reads the real store, then holds the answer until the test
// lets it go: the read is done, its result not yet cached.
type pausingSource struct {
	inner   creds.ClaimsSource
	pause   bool
	read    chan struct{} // closed when the paused read has its answer
	release chan struct{} // closed by the test to let the answer through
}

func (p *pausingSource) GetAccessKey(ctx context.Context, id string) (store.AccessKey, error) {
	k, err := p.inner.GetAccessKey(ctx, id)
	if p.pause {
		p.pause = false
		close(p.read)
		<-p.release
	}
	return k, err
}

// TestCacheRevocationRace forces the interleaving of issue 9 defect 7: a
// lookup reads the unrevoked record, the revocation commits and invalidates,
// and only then does the lookup try to cache what it read. The stale record
// must not outlive the invalidation: the next lookup refuses the key.
func TestCacheRevocationRace(t *testing.T) { teststore.Each(t, testCacheRevocationRace) }

func testCacheRevocationRace(t *testing.T, b teststore.Backend) {
	ctx := context.Background()
	st := b.Open(t)
	kr := ring(1, 1)
	now := time.Now()
	rec, _, err := kr.Mint(testIdentity(), nil, time.Hour, now, false)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateOrg(ctx, store.Org{ID: rec.OrgID, Name: "Acme", Created: now}); err != nil {
			return err
		}
		return tx.CreateAccessKey(ctx, rec)
	})
	if err != nil {
		t.Fatal(err)
	}

	src := &pausingSource{inner: st, pause: true, read: make(chan struct{}), release: make(chan struct{})}
	c := &creds.Cache{Keys: kr, Source: src, TTL: time.Hour}

	first := make(chan error, 1)
	go func() {
		_, err := c.Lookup(ctx, rec.ID)
		first <- err
	}()
	<-src.read // the lookup holds the unrevoked record

	// The admin path: revoke in a transaction, then invalidate.
	var ids []string
	err = st.Update(ctx, func(tx store.Tx) error {
		var err error
		ids, err = tx.RevokeAccessKeys(ctx, store.RevokeFilter{OrgID: rec.OrgID, AccessKeyID: rec.ID, Now: time.Now()})
		return err
	})
	if err != nil || len(ids) != 1 {
		t.Fatalf("revoke: %v %v", ids, err)
	}
	c.Invalidate(ids...)
	close(src.release)

	// The in-flight lookup began before the revocation committed; whatever
	// it answers, it must not have cached the stale record.
	if err := <-first; err != nil && !errors.Is(err, creds.ErrRevoked) {
		t.Fatalf("in-flight lookup: %v", err)
	}
	if _, err := c.Lookup(ctx, rec.ID); !errors.Is(err, creds.ErrRevoked) {
		t.Fatalf("lookup after the revocation: err = %v, want ErrRevoked (a stale cached record outlived Invalidate)", err)
	}
}
