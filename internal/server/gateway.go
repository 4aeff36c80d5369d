package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/s3fed/s3fed/internal/creds"
	"github.com/s3fed/s3fed/internal/policy"
	"github.com/s3fed/s3fed/internal/s3"
	"github.com/s3fed/s3fed/internal/s3/sigv4"
	"github.com/s3fed/s3fed/internal/store"
)

// credSource adapts the credential cache to what SigV4 verification needs.
type credSource struct{ c *creds.Cache }

func (s credSource) Credential(ctx context.Context, id string) (sigv4.Credential, error) {
	c, err := s.c.Lookup(ctx, id)
	switch {
	case errors.Is(err, creds.ErrUnknownKey), errors.Is(err, creds.ErrRevoked):
		return sigv4.Credential{}, fmt.Errorf("%w: %w", sigv4.ErrUnknownAccessKey, err)
	case errors.Is(err, creds.ErrExpired):
		return sigv4.Credential{}, fmt.Errorf("%w: %w", sigv4.ErrExpiredCredential, err)
	case err != nil:
		return sigv4.Credential{}, err
	}
	return sigv4.Credential{AccessKeyID: c.Key.ID, SecretKey: c.Secret, SessionToken: c.SessionToken, Expiry: c.Key.Expiry, Identity: c.Identity()}, nil
}

// authorizer decides S3 actions with the org policies and the bucket policy
// (policy.Authorize); each bucket's parsed policy is cached with the text it
// was parsed from, so a changed policy is re-parsed and an unchanged one
// costs a comparison, not an allocation.
type authorizer struct {
	set *policy.Set

	mu     sync.RWMutex
	parsed map[string]parsedPolicy
}

type parsedPolicy struct {
	doc []byte
	bp  *policy.BucketPolicy
}

func (a *authorizer) bucketPolicy(bucket string, doc []byte) (*policy.BucketPolicy, error) {
	if len(doc) == 0 {
		return nil, nil
	}
	a.mu.RLock()
	pp, ok := a.parsed[bucket]
	a.mu.RUnlock()
	if ok && bytes.Equal(pp.doc, doc) {
		return pp.bp, nil
	}
	bp, err := policy.ParseBucketPolicy(doc, bucket)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	if a.parsed == nil || len(a.parsed) > 100000 {
		a.parsed = map[string]parsedPolicy{}
	}
	a.parsed[bucket] = parsedPolicy{doc: bytes.Clone(doc), bp: bp}
	a.mu.Unlock()
	return bp, nil
}

func (a *authorizer) Authorize(ctx context.Context, r s3.AuthzRequest) s3.AuthzDecision {
	id := r.Identity
	bp, err := a.bucketPolicy(r.Bucket, r.BucketPolicy)
	if err != nil {
		// A stored policy that no longer parses denies (fail closed), except
		// for the bucket-policy actions, which org policies alone decide.
		if !policy.IsBucketPolicyAction(r.Action) {
			return s3.AuthzDecision{Reason: "the bucket policy cannot be evaluated: " + err.Error()}
		}
		bp = nil
	}
	owner := r.BucketOwnerOrg
	if owner == "" {
		// No existing bucket (CreateBucket, or a request about a missing
		// bucket): only the caller's own org policies decide.
		owner = id.OrgID
	}
	d := policy.Authorize(a.set.Engine(id.OrgID), bp, owner, policy.Request{OrgID: id.OrgID, PrincipalName: id.PrincipalName,
		Role: id.Role, Groups: id.Groups, Attributes: id.Attributes, Action: r.Action, Resource: r.Resource},
		policy.BucketContext{SourceIP: r.SourceIP, SecureTransport: r.SecureTransport, Prefix: r.Prefix})
	out := s3.AuthzDecision{Allowed: d.Allowed(), Reason: d.Reason}
	if len(d.Statements) > 0 {
		ref := d.Statements[0]
		if ref.Policy != "" {
			out.Statement = ref.Policy + "/" + ref.Statement
		} else {
			out.Statement = "bucket-policy:" + ref.Bucket + "/" + ref.Statement
		}
	}
	return out
}

// bucketRecords keeps bucket ownership and bucket policies in the state store.
type bucketRecords struct{ st store.Store }

func (b bucketRecords) Owner(ctx context.Context, name string) (s3.BucketRecord, []byte, error) {
	bk, err := b.st.GetBucket(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return s3.BucketRecord{}, nil, s3.ErrNoSuchBucket
	}
	if err != nil {
		return s3.BucketRecord{}, nil, err
	}
	return bucketRecord(bk), bk.Policy, nil
}

func bucketRecord(bk store.Bucket) s3.BucketRecord {
	rec := s3.BucketRecord{Name: bk.Name, OrgID: bk.OrgID, CreatedBy: bk.CreatedBy, Created: bk.Created}
	if p := bk.PublicAccessBlock; p != nil {
		rec.PublicAccessBlock = &s3.PublicAccessBlock{BlockPublicAcls: p.BlockPublicAcls, IgnorePublicAcls: p.IgnorePublicAcls,
			BlockPublicPolicy: p.BlockPublicPolicy, RestrictPublicBuckets: p.RestrictPublicBuckets}
	}
	return rec
}

func storePAB(p *s3.PublicAccessBlock) *store.PublicAccessBlock {
	if p == nil {
		return nil
	}
	return &store.PublicAccessBlock{BlockPublicAcls: p.BlockPublicAcls, IgnorePublicAcls: p.IgnorePublicAcls,
		BlockPublicPolicy: p.BlockPublicPolicy, RestrictPublicBuckets: p.RestrictPublicBuckets}
}

// SetPublicAccessBlock keeps a bucket's Block Public Access configuration
// with its record (s3.PublicAccessBlockStore).
func (b bucketRecords) SetPublicAccessBlock(ctx context.Context, name string, pab *s3.PublicAccessBlock) error {
	err := b.st.Update(ctx, func(tx store.Tx) error { return tx.SetBucketPublicAccessBlock(ctx, name, storePAB(pab)) })
	if errors.Is(err, store.ErrNotFound) {
		return s3.ErrNoSuchBucket
	}
	return err
}

func (b bucketRecords) Create(ctx context.Context, rec s3.BucketRecord) error {
	err := b.st.Update(ctx, func(tx store.Tx) error {
		return tx.CreateBucket(ctx, store.Bucket{Name: rec.Name, OrgID: rec.OrgID, CreatedBy: rec.CreatedBy, Created: rec.Created,
			PublicAccessBlock: storePAB(rec.PublicAccessBlock)})
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return s3.ErrBucketExists
	}
	return err
}

func (b bucketRecords) Delete(ctx context.Context, name string) error {
	err := b.st.Update(ctx, func(tx store.Tx) error { return tx.DeleteBucket(ctx, name) })
	if errors.Is(err, store.ErrNotFound) {
		return s3.ErrNoSuchBucket
	}
	return err
}

func (b bucketRecords) List(ctx context.Context, org string) ([]s3.BucketRecord, error) {
	bs, err := b.st.ListBuckets(ctx, org)
	if err != nil {
		return nil, err
	}
	out := make([]s3.BucketRecord, 0, len(bs))
	for _, bk := range bs {
		out = append(out, bucketRecord(bk))
	}
	return out, nil
}

func (b bucketRecords) SetPolicy(ctx context.Context, name string, doc []byte) error {
	err := b.st.Update(ctx, func(tx store.Tx) error { return tx.SetBucketPolicy(ctx, name, doc) })
	if errors.Is(err, store.ErrNotFound) {
		return s3.ErrNoSuchBucket
	}
	return err
}

func (b bucketRecords) DeletePolicy(ctx context.Context, name string) error {
	return b.SetPolicy(ctx, name, nil)
}

// auditWriter batches S3 access events into the store off the request path.
// A full buffer applies back-pressure rather than dropping events: an audit
// log with silent gaps would be worse than a slower request.
//
// Requests append to a slice under a mutex; the writer goroutine is woken
// once per batch (by the first event after a flush), not once per event:
// at concurrency 1 a wakeup per request cost a goroutine switch and often a
// thread wakeup on every S3 request.
type auditWriter struct {
	st  store.Store
	log *slog.Logger

	mu      sync.Mutex
	cond    *sync.Cond // signalled when a flush completes
	pending []store.Event
	queued  uint64 // events ever queued
	written uint64 // events ever flushed (written or logged as failed)
	urgent  bool   // a Sync is waiting: flush without lingering
	closed  bool

	kick chan struct{} // buffered 1: wakes the writer
	wg   sync.WaitGroup
}

// auditBatch is the batch size that ends the linger early; auditMaxPending
// is how many events may wait before LogAccess blocks.
const (
	auditBatch      = 512
	auditMaxPending = 8192
)

func newAuditWriter(st store.Store, log *slog.Logger) *auditWriter {
	w := &auditWriter{st: st, log: log, kick: make(chan struct{}, 1), pending: make([]store.Event, 0, auditBatch)}
	w.cond = sync.NewCond(&w.mu)
	w.wg.Add(1)
	go w.run()
	return w
}

func (w *auditWriter) LogAccess(ctx context.Context, ev s3.AccessEvent) {
	e := store.Event{Time: ev.Time, OrgID: ev.OrgID, Kind: "s3", Action: ev.Action, Target: ev.Resource, Outcome: ev.Decision,
		Code: ev.ErrorCode, RequestID: ev.RequestID, ClientIP: ev.SourceIP, PrincipalName: ev.PrincipalName, Role: ev.Role,
		AccessKeyID: ev.AccessKeyID, Details: map[string]any{"statement": ev.Statement, "status": ev.Status, "bytesIn": ev.BytesIn, "bytesOut": ev.BytesOut,
			"operation": ev.Operation, "durationMs": float64(ev.Duration.Microseconds()) / 1000}}
	w.mu.Lock()
	for len(w.pending) >= auditMaxPending && !w.closed {
		w.cond.Wait() // back-pressure: the writer is behind
	}
	first := len(w.pending) == 0
	w.pending = append(w.pending, e)
	w.queued++
	full := len(w.pending) == auditBatch
	w.mu.Unlock()
	if first || full {
		w.wake() // start lingering, or end it: a batch is worth writing
	}
}

func (w *auditWriter) wake() {
	select {
	case w.kick <- struct{}{}:
	default: // already woken
	}
}

// Sync returns once every event queued before the call is written, so that
// an audit read sees the requests that were answered before it.
func (w *auditWriter) Sync(ctx context.Context) {
	w.mu.Lock()
	target := w.queued
	if w.written >= target {
		w.mu.Unlock()
		return
	}
	w.urgent = true
	w.mu.Unlock()
	w.wake()
	done := make(chan struct{})
	go func() {
		w.mu.Lock()
		for w.written < target && !w.closed {
			w.cond.Wait()
		}
		w.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// auditLinger is how long the writer waits for more events before it
// commits a batch. Every commit of the state store is an fsync; at low
// concurrency one transaction per S3 request cost more CPU than serving the
// request, so events are gathered for a few milliseconds (they are written
// after the answer anyway).
const auditLinger = 20 * time.Millisecond

func (w *auditWriter) run() {
	defer w.wg.Done()
	var batch []store.Event
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		<-w.kick
		w.mu.Lock()
		urgent, closed := w.urgent, w.closed
		w.mu.Unlock()
		if !urgent && !closed {
			// Linger for more events, unless a Sync or Close arrives.
			timer.Reset(auditLinger)
			select {
			case <-timer.C:
			case <-w.kick:
				timer.Stop()
			}
		}
		w.mu.Lock()
		batch, w.pending = w.pending, batch[:0]
		w.urgent = false
		closed = w.closed
		w.mu.Unlock()
		if len(batch) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := w.st.AppendEvents(ctx, batch); err != nil {
				w.log.Error("audit: write S3 access events", "events", len(batch), "err", err)
			}
			cancel()
		}
		w.mu.Lock()
		w.written += uint64(len(batch))
		more := len(w.pending) > 0
		w.cond.Broadcast()
		w.mu.Unlock()
		clear(batch) // drop references to the written events
		if closed && !more {
			return
		}
		if more {
			w.wake() // events arrived during the write: next batch
		}
	}
}

// Close writes what is queued and stops. Events logged after Close are
// dropped (the listener is shut down first, so there are none).
func (w *auditWriter) Close() error {
	w.mu.Lock()
	w.closed = true
	w.cond.Broadcast()
	w.mu.Unlock()
	w.wake()
	w.wg.Wait()
	return nil
}

// inflight tracks S3 requests being served, so that an audit read can wait
// for those already answered to finish their access event (the S3 front door
// logs after the answer is written).
type inflight struct {
	mu   sync.Mutex
	next uint64
	reqs map[uint64]chan struct{}
}

func (f *inflight) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done := make(chan struct{})
		f.mu.Lock()
		if f.reqs == nil {
			f.reqs = map[uint64]chan struct{}{}
		}
		id := f.next
		f.next++
		f.reqs[id] = done
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			delete(f.reqs, id)
			f.mu.Unlock()
			close(done)
		}()
		h.ServeHTTP(w, r)
	})
}

// wait returns when every request in flight at the call has finished, or ctx ends.
func (f *inflight) wait(ctx context.Context) {
	f.mu.Lock()
	pending := make([]chan struct{}, 0, len(f.reqs))
	for _, d := range f.reqs {
		pending = append(pending, d)
	}
	f.mu.Unlock()
	for _, d := range pending {
		select {
		case <-d:
		case <-ctx.Done():
			return
		}
	}
}
