// Command soak runs mixed load against a real `s3fed serve` for a fixed time
// and reports whether it stays healthy: errors (goal 0), resident memory at
// start, middle and end (goal flat within 10 %), open file descriptors,
// threads, goroutines (from /metrics when the server has it) and latency
// percentiles per operation.
//
// The load is what a deployment sees: SAML exchanges (fresh signed Responses
// from the test IdP), S3 PUT/GET/LIST/DELETE with exchanged keys (bodies
// checked on read), admin changes (policies, config edits, org tokens,
// inventory and audit reads) and revocations (a key is used, revoked, and
// must then be refused). Each store runs against its own fresh server:
// SQLite in a temp data dir, PostgreSQL in a database created for the run
// and dropped after.
//
//	go -C bench run ./soak -duration 10m                  # both stores, one after the other
//	go -C bench run ./soak -duration 1m -stores sqlite    # a quick look
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	_ "github.com/jackc/pgx/v5/stdlib" // the PostgreSQL driver, to create and drop the run's database

	"github.com/s3fed/s3fed/internal/idp"
)

const (
	rootToken = "s3fed_soak-root-token-for-the-soak-run"
	org       = "soak"
	allowAll  = `{"version":"v1alpha1","name":"all","statements":[{"name":"all","effect":"Allow","actions":["*"],"resources":["*"],"principals":["*"]}]}`
)

var listening = regexp.MustCompile(`^s3fed: API on (\S+), S3 on (\S+),`)

func main() {
	var (
		duration   = flag.Duration("duration", 10*time.Minute, "how long each store is soaked")
		stores     = flag.String("stores", "sqlite,postgres", "comma-separated: sqlite, postgres")
		pgBase     = flag.String("pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL server to create the run's database on")
		s3Workers  = flag.Int("s3-workers", 4, "goroutines doing S3 PUT/GET/LIST/DELETE")
		exWorkers  = flag.Int("exchange-workers", 2, "goroutines doing SAML exchanges")
		sampleEach = flag.Duration("sample", 10*time.Second, "how often resources are sampled")
		bin        = flag.String("bin", "", "s3fed binary (default: build ../cmd/s3fed)")
		maxObjects = flag.Int("objects", 1500, "objects each S3 worker holds at most (a steady data set)")
		keySecs    = flag.Int("key-seconds", 300, "lifetime of exchanged keys (short, so the set of live keys reaches a steady state)")
	)
	flag.Parse()
	log.SetFlags(log.Ltime)
	if *bin == "" {
		dir, err := os.MkdirTemp("", "soak-bin")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		*bin = filepath.Join(dir, "s3fed")
		build := exec.Command("go", "build", "-o", *bin, "./cmd/s3fed")
		build.Dir = ".." // the product module; run from bench/
		out, err := build.CombinedOutput()
		if err != nil {
			log.Fatalf("build s3fed: %v\n%s", err, out)
		}
	}
	failed := false
	for _, st := range strings.Split(*stores, ",") {
		r := &run{store: st, bin: *bin, pgBase: *pgBase, duration: *duration, s3Workers: *s3Workers,
			exWorkers: *exWorkers, sampleEach: *sampleEach, lat: map[string]*latencies{}, maxObjects: *maxObjects, keySeconds: *keySecs}
		if err := r.do(); err != nil {
			log.Printf("%s: %v", st, err)
			failed = true
			continue
		}
		r.report(os.Stdout)
		if r.errors.Load() > 0 {
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

// run is one soak of one store.
type run struct {
	store, bin, pgBase   string
	duration, sampleEach time.Duration
	s3Workers, exWorkers int
	maxObjects           int
	keySeconds           int

	api, s3url string
	cmd        *exec.Cmd
	exited     chan struct{}
	stderr     bytes.Buffer
	configID   string
	kp         *idp.KeyPair

	mu      sync.Mutex
	lat     map[string]*latencies
	samples []sample
	errLog  []string
	pool    []cred // recent keys for the S3 workers

	errors atomic.Int64
	ops    atomic.Int64
}

type cred struct{ ak, sk string }

type sample struct {
	at                               time.Duration
	rssKiB, fds, threads, goroutines int64
	dataKiB                          int64
	anonKiB, fileKiB                 int64
}

type latencies struct{ d []time.Duration }

func (r *run) observe(op string, d time.Duration) {
	r.mu.Lock()
	l := r.lat[op]
	if l == nil {
		l = &latencies{}
		r.lat[op] = l
	}
	l.d = append(l.d, d)
	r.mu.Unlock()
	r.ops.Add(1)
}

func (r *run) fail(op string, err error) {
	n := r.errors.Add(1)
	if n <= 20 {
		r.mu.Lock()
		r.errLog = append(r.errLog, fmt.Sprintf("%s: %v", op, err))
		r.mu.Unlock()
	}
}

func (r *run) do() error {
	dataDir, err := os.MkdirTemp("", "soak-"+r.store)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)
	args := []string{"serve", "--data-dir", dataDir, "--api-addr", "127.0.0.1:0", "--s3-addr", "127.0.0.1:0",
		"--log-level", "warn", "--exchange-rate", "0"}
	switch r.store {
	case "sqlite":
	case "postgres":
		dsn, drop, err := freshDatabase(r.pgBase)
		if err != nil {
			return err
		}
		defer drop()
		args = append(args, "--database-url", dsn)
	default:
		return fmt.Errorf("unknown store %q", r.store)
	}
	if err := r.start(args); err != nil {
		return err
	}
	defer r.stop()
	if err := r.provision(); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), r.duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.sampler(ctx, start, dataDir) }()
	for i := range r.exWorkers {
		wg.Add(1)
		go func() { defer wg.Done(); r.exchanger(ctx, i) }()
	}
	// S3 workers start once a key exists.
	for !r.hasCred() {
		if ctx.Err() != nil {
			break
		}
		c, err := r.exchange(fmt.Sprintf("seed-%d", 0), "writer")
		if err != nil {
			return fmt.Errorf("first exchange: %w", err)
		}
		r.addCred(c)
	}
	for i := range r.s3Workers {
		wg.Add(1)
		go func() { defer wg.Done(); r.s3Worker(ctx, i) }()
	}
	wg.Add(2)
	go func() { defer wg.Done(); r.admin(ctx) }()
	go func() { defer wg.Done(); r.revoker(ctx) }()
	log.Printf("%s: soaking for %s (API %s, S3 %s)", r.store, r.duration, r.api, r.s3url)
	wg.Wait()
	r.sampleNow(time.Since(start), dataDir) // the end
	select {
	case <-r.exited:
		return fmt.Errorf("the server exited during the soak:\n%s", r.stderr.String())
	default:
	}
	return nil
}

// freshDatabase creates a database for the run and returns its DSN and a
// function that drops it.
func freshDatabase(base string) (string, func(), error) {
	db, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "s3fed_soak_" + hex.EncodeToString(b)
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		db.Close()
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() {
		_, _ = db.Exec("DROP DATABASE " + name + " WITH (FORCE)")
		db.Close()
	}, nil
}

func (r *run) start(args []string) error {
	r.cmd = exec.Command(r.bin, args...)
	r.cmd.Env = append(os.Environ(), "S3FED_ROOT_TOKEN="+rootToken)
	r.cmd.Stderr = &lockedWriter{w: &r.stderr}
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := r.cmd.Start(); err != nil {
		return err
	}
	r.exited = make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(r.exited) }()
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m
			}
		}
	}()
	select {
	case m := <-found:
		r.api, r.s3url = m[1], m[2]
		return nil
	case <-r.exited:
		return fmt.Errorf("s3fed exited before listening:\n%s", r.stderr.String())
	case <-time.After(time.Minute):
		return errors.New("s3fed did not listen within a minute")
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (r *run) stop() {
	_ = r.cmd.Process.Signal(os.Interrupt)
	select {
	case <-r.exited:
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

func (r *run) provision() error {
	certPEM, keyPEM, err := idp.Keygen(idp.KeygenOptions{})
	if err != nil {
		return err
	}
	if r.kp, err = idp.ParseKeyPair(certPEM, keyPEM); err != nil {
		return err
	}
	if _, err := r.call("POST", "/v1/admin/orgs", map[string]any{"id": org}, 201); err != nil {
		return err
	}
	cfg, err := r.call("POST", "/v1/admin/orgs/"+org+"/workload-federation/saml",
		map[string]any{"name": "soak", "idpEntityId": idp.DefaultCommonName, "x509Certificate": string(certPEM)}, 201)
	if err != nil {
		return err
	}
	r.configID, _ = cfg["configId"].(string)
	var pol map[string]any
	_ = json.Unmarshal([]byte(allowAll), &pol)
	_, err = r.call("PUT", "/v1/admin/orgs/"+org+"/access-policies/all", pol, 201)
	return err
}

var httpClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}

func (r *run) call(method, path string, body any, want int) (map[string]any, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, r.api+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+rootToken)
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: status %d %s, want %d", method, path, resp.StatusCode, bytes.TrimSpace(raw), want)
	}
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return out, nil
}

func (r *run) exchange(principal, role string) (cred, error) {
	resp, err := idp.SignBase64(idp.SignOptions{KeyPair: r.kp, OrgID: org, Principal: principal, Role: role, PublicURL: r.api})
	if err != nil {
		return cred{}, err
	}
	t := time.Now()
	out, err := r.call("POST", "/v1/cwobject/temporary-credentials/saml",
		map[string]any{"orgId": org, "configId": r.configID, "samlResponse": resp, "durationSeconds": r.keySeconds}, 200)
	if err != nil {
		return cred{}, err
	}
	r.observe("exchange", time.Since(t))
	ak, _ := out["accessKeyId"].(string)
	sk, _ := out["secretKey"].(string)
	return cred{ak, sk}, nil
}

func (r *run) hasCred() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.pool) > 0 }

func (r *run) addCred(c cred) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pool) >= 64 {
		r.pool = r.pool[1:]
	}
	r.pool = append(r.pool, c)
}

func (r *run) pickCred() cred {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pool[mrand.IntN(len(r.pool))]
}

func (r *run) exchanger(ctx context.Context, w int) {
	for n := 0; ctx.Err() == nil; n++ {
		c, err := r.exchange(fmt.Sprintf("user-%d-%d@soak.test", w, n%50), "writer")
		if err != nil {
			if ctx.Err() == nil {
				r.fail("exchange", err)
			}
			continue
		}
		r.addCred(c)
	}
}

// s3HTTP is the one connection pool of every S3 client: a client per key
// must not mean a connection pool per key, or the server's open
// connections would measure the load generator, not the server.
var s3HTTP = &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func (r *run) client(c cred) *s3.Client {
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(r.s3url), UsePathStyle: true, HTTPClient: s3HTTP,
		Credentials: credentials.NewStaticCredentialsProvider(c.ak, c.sk, ""), Retryer: aws.NopRetryer{}})
}

// s3Worker owns one bucket and keeps a map of what it holds, so every GET
// and LIST is checked against what was acknowledged.
func (r *run) s3Worker(ctx context.Context, w int) {
	bucket := fmt.Sprintf("soak-%d", w)
	cl := r.client(r.pickCred())
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		r.fail("CreateBucket", err)
		return
	}
	held := map[string][32]byte{}
	var keys []string
	for n := 0; ctx.Err() == nil; n++ {
		if n%50 == 0 { // a fresh key now and then, as a workload rotating credentials does
			cl = r.client(r.pickCred())
		}
		// 0-3 PUT, 4-6 GET, 7 LIST, 8-9 DELETE; a worker holding
		// maxObjects deletes instead of putting, so the data set stays
		// steady and memory can be compared over time.
		op := mrand.IntN(10)
		if op < 4 && len(keys) >= r.maxObjects {
			op = 9
		}
		switch {
		case op < 4 || len(keys) == 0: // PUT
			k := fmt.Sprintf("d%d/obj-%d", mrand.IntN(8), n)
			size := 1 << (10 + mrand.IntN(7)) // 1 KiB .. 64 KiB: index-resident and file-backed
			body := make([]byte, size)
			_, _ = rand.Read(body)
			t := time.Now()
			_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &k, Body: bytes.NewReader(body)})
			if err != nil {
				if ctx.Err() == nil {
					r.fail("PutObject", err)
				}
				continue
			}
			r.observe("PutObject", time.Since(t))
			held[k] = sha256.Sum256(body)
			keys = append(keys, k)
		case op < 7: // GET
			k := keys[mrand.IntN(len(keys))]
			t := time.Now()
			out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &k})
			if err != nil {
				if ctx.Err() == nil {
					r.fail("GetObject", err)
				}
				continue
			}
			data, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				if ctx.Err() == nil {
					r.fail("GetObject body", err)
				}
				continue
			}
			r.observe("GetObject", time.Since(t))
			if sha256.Sum256(data) != held[k] {
				r.fail("GetObject", fmt.Errorf("%s/%s: body differs from what was acknowledged", bucket, k))
			}
		case op < 8: // LIST
			p := fmt.Sprintf("d%d/", mrand.IntN(8))
			t := time.Now()
			got := 0
			pg := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &p, MaxKeys: aws.Int32(500)})
			var err error
			for pg.HasMorePages() && err == nil {
				var page *s3.ListObjectsV2Output
				if page, err = pg.NextPage(ctx); err == nil {
					got += len(page.Contents)
				}
			}
			if err != nil {
				if ctx.Err() == nil {
					r.fail("ListObjectsV2", err)
				}
				continue
			}
			r.observe("ListObjectsV2", time.Since(t))
			want := 0
			for k := range held {
				if strings.HasPrefix(k, p) {
					want++
				}
			}
			if got != want {
				r.fail("ListObjectsV2", fmt.Errorf("%s prefix %s: listed %d objects, hold %d", bucket, p, got, want))
			}
		default: // DELETE
			i := mrand.IntN(len(keys))
			k := keys[i]
			t := time.Now()
			if _, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &k}); err != nil {
				if ctx.Err() == nil {
					r.fail("DeleteObject", err)
				}
				continue
			}
			r.observe("DeleteObject", time.Since(t))
			delete(held, k)
			keys[i] = keys[len(keys)-1]
			keys = keys[:len(keys)-1]
		}
	}
}

// admin makes the changes an org admin makes, a few per second.
func (r *run) admin(ctx context.Context) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var err error
		op := ""
		t := time.Now()
		switch n % 6 {
		case 0:
			op = "admin:policy.put"
			pol := map[string]any{"version": "v1alpha1", "name": fmt.Sprintf("extra-%d", n%10), "statements": []any{
				map[string]any{"name": "deny-other", "effect": "Deny", "actions": []string{"s3:DeleteObject"},
					"resources": []string{fmt.Sprintf("not-a-soak-bucket-%d/*", n)}, "principals": []string{"*"}}}}
			_, err = r.call("PUT", fmt.Sprintf("/v1/admin/orgs/%s/access-policies/extra-%d", org, n%10), pol, 201)
			if err != nil && strings.Contains(err.Error(), "status 200") {
				err = nil // a replacement answers 200
			}
		case 1:
			op = "admin:config.patch"
			_, err = r.call("PATCH", "/v1/admin/orgs/"+org+"/workload-federation/"+r.configID,
				map[string]any{"description": fmt.Sprintf("edited %d", n)}, 200)
		case 2:
			op = "admin:token.create+delete"
			var tok map[string]any
			if tok, err = r.call("POST", "/v1/admin/orgs/"+org+"/tokens", map[string]any{"description": "soak"}, 201); err == nil {
				id, _ := tok["id"].(string)
				if id == "" {
					err = fmt.Errorf("token answer has no id: %v", tok)
				} else {
					_, err = r.call("DELETE", "/v1/admin/orgs/"+org+"/tokens/"+id, nil, 204)
					if err != nil && strings.Contains(err.Error(), "status 200") {
						err = nil
					}
				}
			}
		case 3:
			op = "admin:keys.list"
			_, err = r.call("GET", "/v1/admin/orgs/"+org+"/access-keys?status=ACTIVE", nil, 200)
		case 4:
			op = "admin:audit"
			_, err = r.call("GET", "/v1/admin/orgs/"+org+"/audit?limit=100", nil, 200)
		case 5:
			op = "admin:policy.delete"
			_, err = r.call("DELETE", fmt.Sprintf("/v1/admin/orgs/%s/access-policies/extra-%d", org, (n+5)%10), nil, 204)
			if err != nil && (strings.Contains(err.Error(), "status 404") || strings.Contains(err.Error(), "status 200")) {
				err = nil // not there (yet), or answered with a body
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				r.fail(op, err)
			}
			continue
		}
		r.observe(op, time.Since(t))
	}
}

// revoker exchanges a key, uses it, revokes it and checks that the next
// request with it is refused.
func (r *run) revoker(ctx context.Context) {
	for n := 0; ctx.Err() == nil; n++ {
		c, err := r.exchange(fmt.Sprintf("revokee-%d@soak.test", n), "writer")
		if err != nil {
			if ctx.Err() == nil {
				r.fail("revoker exchange", err)
			}
			continue
		}
		cl := r.client(c)
		if _, err := cl.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
			if ctx.Err() == nil {
				r.fail("revoker use", err)
			}
			continue
		}
		t := time.Now()
		if _, err := r.call("POST", "/v1/cwobject/revoke-access-key/access-key", map[string]any{"orgId": org, "accessKey": c.ak}, 200); err != nil {
			if ctx.Err() == nil {
				r.fail("revoke", err)
			}
			continue
		}
		r.observe("admin:revoke", time.Since(t))
		_, err = cl.ListBuckets(ctx, &s3.ListBucketsInput{})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidAccessKeyId" {
			if ctx.Err() == nil {
				r.fail("revoked key", fmt.Errorf("a revoked key got %v, want InvalidAccessKeyId", err))
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *run) sampler(ctx context.Context, start time.Time, dataDir string) {
	r.sampleNow(0, dataDir)
	t := time.NewTicker(r.sampleEach)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.sampleNow(time.Since(start), dataDir)
		}
	}
}

func (r *run) sampleNow(at time.Duration, dataDir string) {
	pid := r.cmd.Process.Pid
	s := sample{at: at.Round(time.Second), rssKiB: procField(pid, "VmRSS"), threads: procField(pid, "Threads"),
		anonKiB: procField(pid, "RssAnon"), fileKiB: procField(pid, "RssFile"),
		goroutines: -1, dataKiB: dirKiB(dataDir)}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		s.fds = int64(len(ents))
	}
	s.goroutines = r.metric("go_goroutines")
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
}

// metric reads one gauge from /metrics, or -1 when the server has none.
func (r *run) metric(name string) int64 {
	resp, err := httpClient.Get(r.api + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return -1
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return int64(f)
			}
		}
	}
	return -1
}

func procField(pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return -1
}

func dirKiB(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total / 1024
}

func (r *run) report(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(w, "\n## soak: %s state, %s, %d S3 workers, %d exchange workers\n\n", r.store, r.duration, r.s3Workers, r.exWorkers)
	fmt.Fprintf(w, "operations %d, errors %d (goal 0)\n", r.ops.Load(), r.errors.Load())
	for _, e := range r.errLog {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
	fmt.Fprintf(w, "\n| at | RSS MiB | anon MiB | file MiB | fds | threads | goroutines | data dir MiB |\n|---|---|---|---|---|---|---|---|\n")
	for _, s := range r.samples {
		g := "n/a"
		if s.goroutines >= 0 {
			g = strconv.FormatInt(s.goroutines, 10)
		}
		fmt.Fprintf(w, "| %s | %.1f | %.1f | %.1f | %d | %d | %s | %.1f |\n", s.at, float64(s.rssKiB)/1024, float64(s.anonKiB)/1024,
			float64(s.fileKiB)/1024, s.fds, s.threads, g, float64(s.dataKiB)/1024)
	}
	if n := len(r.samples); n >= 3 {
		// Start is the first sample after a warm-up of a tenth of the run
		// (caches, pools and the index mapping fill), so the comparison is
		// of a loaded server with itself.
		i := 1
		for i < n-1 && r.samples[i].at < r.duration/10 {
			i++
		}
		first, mid, last := r.samples[i], r.samples[(i+n-1)/2], r.samples[n-1]
		growth := 100 * (float64(last.rssKiB) - float64(first.rssKiB)) / float64(first.rssKiB)
		fmt.Fprintf(w, "\nRSS after warm-up %.1f MiB, middle %.1f MiB, end %.1f MiB: %+.1f %% (goal within ±10 %%)\n",
			float64(first.rssKiB)/1024, float64(mid.rssKiB)/1024, float64(last.rssKiB)/1024, growth)
		ag := 100 * (float64(last.anonKiB) - float64(first.anonKiB)) / float64(first.anonKiB)
		fmt.Fprintf(w, "anonymous memory (heap, stacks) after warm-up %.1f MiB, middle %.1f MiB, end %.1f MiB: %+.1f %%; the rest is the object index's file mapping\n",
			float64(first.anonKiB)/1024, float64(mid.anonKiB)/1024, float64(last.anonKiB)/1024, ag)
	}
	fmt.Fprintf(w, "\n| operation | count | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|\n")
	ops := make([]string, 0, len(r.lat))
	for op := range r.lat {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		d := r.lat[op].d
		slices.Sort(d)
		fmt.Fprintf(w, "| %s | %d | %.2f | %.2f | %.2f |\n", op, len(d), ms(pct(d, 0.50)), ms(pct(d, 0.99)), ms(d[len(d)-1]))
	}
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
