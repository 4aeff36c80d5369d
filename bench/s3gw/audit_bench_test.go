package s3gw

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3fed/s3fed/internal/identity"
	s3gwpkg "github.com/s3fed/s3fed/internal/s3"
	"github.com/s3fed/s3fed/internal/s3/sigv4"
	"github.com/s3fed/s3fed/internal/storage/fs"
	"github.com/s3fed/s3fed/internal/store"
	"github.com/s3fed/s3fed/internal/store/sqlite"
	"github.com/s3fed/s3fed/internal/store/sqlstore"
)

// The audit ablation: s3fed's S3 front door (internal/s3 + sigv4 + the fs
// store) wired in process with a static key and an allow-all authoriser,
// once without an access log, once with a copy of internal/server's batched
// SQLite audit writer, and once with that writer lingering a little to make
// bigger batches. The differences are what the audit costs and what a
// linger would save; the profile of BenchmarkInProcess shows where.

const (
	bareKey    = "AKIABENCHBARE0000000"
	bareSecret = "benchbaresecretbenchbaresecret0123456789"
)

// allowAll is an Authorizer that allows everything (the ablation measures
// the audit, not the policy engine).
type allowAllAuthz struct{}

func (allowAllAuthz) Authorize(context.Context, s3gwpkg.AuthzRequest) s3gwpkg.AuthzDecision {
	return s3gwpkg.AuthzDecision{Allowed: true, Statement: "all/all"}
}

// memBuckets is an in-memory s3.Buckets.
type memBuckets struct {
	mu sync.Mutex
	m  map[string]s3gwpkg.BucketRecord
	p  map[string][]byte
}

func (b *memBuckets) Owner(_ context.Context, name string) (s3gwpkg.BucketRecord, []byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.m[name]
	if !ok {
		return s3gwpkg.BucketRecord{}, nil, s3gwpkg.ErrNoSuchBucket
	}
	return r, b.p[name], nil
}

func (b *memBuckets) Create(_ context.Context, rec s3gwpkg.BucketRecord) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.m[rec.Name]; ok {
		return s3gwpkg.ErrBucketExists
	}
	b.m[rec.Name] = rec
	return nil
}

func (b *memBuckets) Delete(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.m[name]; !ok {
		return s3gwpkg.ErrNoSuchBucket
	}
	delete(b.m, name)
	delete(b.p, name)
	return nil
}

func (b *memBuckets) List(_ context.Context, org string) ([]s3gwpkg.BucketRecord, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []s3gwpkg.BucketRecord
	for _, r := range b.m {
		if r.OrgID == org {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (b *memBuckets) SetPolicy(_ context.Context, name string, doc []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.p[name] = doc
	return nil
}

func (b *memBuckets) DeletePolicy(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.p, name)
	return nil
}

// sqliteAudit is a copy of internal/server's auditWriter (same event shape,
// same drain-what-is-queued batching, same 8192 buffer) with an optional
// linger: after the first event of a batch it waits up to linger for more.
type sqliteAudit struct {
	st     store.Store
	linger time.Duration
	ch     chan store.Event
	wg     sync.WaitGroup
}

func newSQLiteAudit(st store.Store, linger time.Duration) *sqliteAudit {
	w := &sqliteAudit{st: st, linger: linger, ch: make(chan store.Event, 8192)}
	w.wg.Add(1)
	go w.run()
	return w
}

func (w *sqliteAudit) LogAccess(_ context.Context, ev s3gwpkg.AccessEvent) {
	w.ch <- store.Event{Time: ev.Time, OrgID: ev.OrgID, Kind: "s3", Action: ev.Action, Target: ev.Resource, Outcome: ev.Decision,
		Code: ev.ErrorCode, RequestID: ev.RequestID, ClientIP: ev.SourceIP, PrincipalName: ev.PrincipalName, Role: ev.Role,
		AccessKeyID: ev.AccessKeyID, Details: map[string]any{"statement": ev.Statement, "status": ev.Status, "bytesIn": ev.BytesIn, "bytesOut": ev.BytesOut,
			"operation": ev.Operation, "durationMs": float64(ev.Duration.Microseconds()) / 1000}}
}

func (w *sqliteAudit) run() {
	defer w.wg.Done()
	if w.st == nil { // "json": the event's encoding alone, no database
		for ev := range w.ch {
			if _, err := json.Marshal(ev); err != nil {
				slog.Error("audit ablation: encode event", "err", err)
			}
		}
		return
	}
	batch := make([]store.Event, 0, 256)
	for ev := range w.ch {
		batch = append(batch, ev)
		var deadline <-chan time.Time
		var timer *time.Timer
		if w.linger > 0 {
			timer = time.NewTimer(w.linger)
			deadline = timer.C
		}
	fill:
		for len(batch) < cap(batch) {
			if deadline == nil {
				select {
				case ev, ok := <-w.ch:
					if !ok {
						break fill
					}
					batch = append(batch, ev)
				default:
					break fill
				}
				continue
			}
			select {
			case ev, ok := <-w.ch:
				if !ok {
					break fill
				}
				batch = append(batch, ev)
			case <-deadline:
				break fill
			}
		}
		if timer != nil {
			timer.Stop()
		}
		if err := w.st.AppendEvents(context.Background(), batch); err != nil {
			slog.Error("audit ablation: append events", "err", err)
		}
		batch = batch[:0]
	}
}

func (w *sqliteAudit) Close() { close(w.ch); w.wg.Wait() }

// openSQLiteNormal opens the state database as internal/store/sqlite does
// but with synchronous(NORMAL): in WAL mode a commit is then durable against
// a process crash but not a power cut, and costs no fsync (the WAL is synced
// at checkpoints).
func openSQLiteNormal(path string) (*sqlstore.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	st, err := sqlstore.New(context.Background(), db, sqlite.Dialect)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return st, nil
}

// startBare runs the bare front door with the given access log ("none";
// "json": build and JSON-encode each event, then drop it; "sqlite": the
// server's writer; "sqlite+linger2ms") and returns a client for it.
func startBare(b *testing.B, audit string) *s3.Client {
	b.Helper()
	b.Setenv("AWS_CA_BUNDLE", "")
	dir := b.TempDir()
	backend, err := fs.Open(filepath.Join(dir, "objects"), fs.Options{})
	if err != nil {
		b.Fatalf("fs.Open: %v", err)
	}
	b.Cleanup(func() { _ = backend.Close() })
	id := identity.Identity{OrgID: benchOrg, ConfigID: "c", Provider: identity.ProviderSAML, Subject: "bench@bench.test",
		PrincipalName: "saml/bench@bench.test", Role: "writer"}
	src := sigv4.CredentialSourceFunc(func(_ context.Context, ak string) (sigv4.Credential, error) {
		if ak != bareKey {
			return sigv4.Credential{}, sigv4.ErrUnknownAccessKey
		}
		return sigv4.Credential{AccessKeyID: bareKey, SecretKey: bareSecret, Identity: id}, nil
	})
	cfg := s3gwpkg.Config{
		Authenticator: &sigv4.Verifier{Region: "us-east-1", Service: "s3", Source: src},
		Authorizer:    allowAllAuthz{},
		Buckets:       &memBuckets{m: map[string]s3gwpkg.BucketRecord{}, p: map[string][]byte{}},
		Backend:       backend,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	switch audit {
	case "none":
	case "json":
		aw := newSQLiteAudit(nil, 0)
		b.Cleanup(aw.Close)
		cfg.AccessLog = aw
	case "sqlite", "sqlite+linger2ms", "sqlite-sync-normal", "sqlite-sync-normal+linger2ms":
		var st *sqlstore.DB
		if strings.HasPrefix(audit, "sqlite-sync-normal") {
			st, err = openSQLiteNormal(filepath.Join(dir, "state.db"))
		} else {
			st, err = sqlite.Open(context.Background(), filepath.Join(dir, "state.db"))
		}
		if err != nil {
			b.Fatalf("open state: %v", err)
		}
		linger := time.Duration(0)
		if strings.HasSuffix(audit, "+linger2ms") {
			linger = 2 * time.Millisecond
		}
		aw := newSQLiteAudit(st, linger)
		b.Cleanup(func() { aw.Close(); _ = st.Close() })
		cfg.AccessLog = aw
	default:
		b.Fatalf("unknown audit variant %q", audit)
	}
	h, err := s3gwpkg.New(cfg)
	if err != nil {
		b.Fatalf("s3.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	b.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.Errorf("serve: %v", err)
		}
	})
	c := newClient("http://"+ln.Addr().String(), bareKey, bareSecret)
	if err := createBucket(c, bucket, nil); err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkAuditCost runs the 4 KiB PUT/GET at c1 and c8 through the bare
// front door with each audit variant; srv+client-cpu-µs/op is this whole
// process (client included, identical across variants), so differences
// between variants are the audit's.
//
//	go -C bench test ./s3gw -bench AuditCost -run '^$' -count 3 -o /tmp/s3gw.test
func BenchmarkAuditCost(b *testing.B) {
	for _, audit := range []string{"none", "json", "sqlite", "sqlite+linger2ms", "sqlite-sync-normal", "sqlite-sync-normal+linger2ms"} {
		b.Run(audit, func(b *testing.B) {
			c := startBare(b, audit)
			for i := range getKeys {
				if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket),
					Key: aws.String(getKey(i)), Body: bytes.NewReader(payload4K)}); err != nil {
					b.Fatalf("seed %s: %v", getKey(i), err)
				}
			}
			for _, conc := range concurrencies {
				b.Run(fmt.Sprintf("Put4K/c%d", conc), func(b *testing.B) {
					round := putRound.Add(1)
					runConcurrent(b, conc, os.Getpid(), func(ctx context.Context, i int) error {
						key := fmt.Sprintf("put/r%d/%08d", round, i)
						_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(payload4K)})
						if err != nil {
							return fmt.Errorf("put %s: %w", key, err)
						}
						return nil
					})
				})
				b.Run(fmt.Sprintf("Get4K/c%d", conc), func(b *testing.B) {
					runConcurrent(b, conc, os.Getpid(), func(ctx context.Context, i int) error {
						out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(getKey(i))})
						if err != nil {
							return fmt.Errorf("get %s: %w", getKey(i), err)
						}
						n, err := io.Copy(io.Discard, out.Body)
						out.Body.Close()
						if err != nil || n != smallSize {
							return fmt.Errorf("get %s: %d bytes, %v", getKey(i), n, err)
						}
						return nil
					})
				})
			}
		})
	}
}
