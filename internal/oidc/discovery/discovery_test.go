package discovery_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/oidc"
	"github.com/s3fed/s3fed/internal/oidc/discovery"
)

const audience = "s3fed-test"

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newKey(t *testing.T) *idp.JWTKey {
	t.Helper()
	pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := idp.NewJWTKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type fixture struct {
	h    *idp.IssuerHandler
	srv  *httptest.Server
	clk  *clock
	src  *discovery.Source
	cfg  *oidc.Config
	key  *idp.JWTKey
	down atomic.Bool
	// before, when set, runs before each request is served (tests block
	// requests with it).
	before atomic.Pointer[func()]
	issue  string
}

// newFixture starts an https issuer with one key and a Source on it.
func newFixture(t *testing.T, cacheControl string) *fixture {
	t.Helper()
	f := &fixture{key: newKey(t), clk: &clock{t: time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)}}
	f.h = &idp.IssuerHandler{JWKS: idp.JWKS(f.key), CacheControl: cacheControl}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b := f.before.Load(); b != nil {
			(*b)()
		}
		if f.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		f.h.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	f.issue = f.srv.URL + "/tenant"
	f.h.Issuer = f.issue
	var err error
	f.src, err = discovery.New(f.issue, discovery.Options{Client: f.srv.Client(), Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = &oidc.Config{Issuer: f.issue, Audience: audience, Keys: f.src, Skew: time.Minute, Now: f.clk.Now}
	return f
}

func (f *fixture) token(t *testing.T, k *idp.JWTKey) string {
	t.Helper()
	tok, err := idp.SignJWT(idp.JWTOptions{Key: k, Issuer: f.issue, Subject: "svc", Audience: []string{audience}, Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *fixture) verify(t *testing.T, k *idp.JWTKey) error {
	t.Helper()
	_, err := oidc.Verify(context.Background(), f.token(t, k), f.cfg)
	return err
}

func (f *fixture) wantFetches(t *testing.T, discoveryDocs, jwks int64) {
	t.Helper()
	if d, j := f.h.DiscoveryRequests(), f.h.JWKSRequests(); d != discoveryDocs || j != jwks {
		t.Fatalf("fetched %d discovery documents and %d JWK Sets, want %d and %d", d, j, discoveryDocs, jwks)
	}
}

func wantCode(t *testing.T, err error, code oidc.Code) {
	t.Helper()
	var oe *oidc.Error
	if !errors.As(err, &oe) || oe.Code != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
}

func TestDiscoveryVerifiesAndCaches(t *testing.T) {
	f := newFixture(t, "public, max-age=600")
	if err := f.verify(t, f.key); err != nil {
		t.Fatal(err)
	}
	f.wantFetches(t, 1, 1)
	for range 3 {
		if err := f.verify(t, f.key); err != nil {
			t.Fatal(err)
		}
	}
	f.wantFetches(t, 1, 1) // cached
	f.clk.Add(599 * time.Second)
	if err := f.verify(t, f.key); err != nil {
		t.Fatal(err)
	}
	f.wantFetches(t, 1, 1)
	f.clk.Add(time.Second) // max-age reached
	if err := f.verify(t, f.key); err != nil {
		t.Fatal(err)
	}
	f.wantFetches(t, 2, 2)
	if st := f.src.Status(); st.Keys != 1 || st.LastError != "" || st.Fetches != 2 || !st.Expires.Equal(f.clk.Now().Add(600*time.Second)) {
		t.Errorf("status %+v", st)
	}
}

func TestDiscoveryTTLClamped(t *testing.T) {
	tests := []struct {
		cacheControl string
		want         time.Duration
	}{
		{"max-age=5", discovery.MinTTL},
		{"no-store", discovery.MinTTL},
		{"no-cache", discovery.MinTTL},
		{"max-age=9999999", discovery.MaxTTL},
		{"private", discovery.DefaultTTL},
		{"max-age=3600", time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.cacheControl, func(t *testing.T) {
			f := newFixture(t, tc.cacheControl)
			if err := f.verify(t, f.key); err != nil {
				t.Fatal(err)
			}
			if got := f.src.Status().Expires.Sub(f.clk.Now()); got != tc.want {
				t.Errorf("cached for %s, want %s", got, tc.want)
			}
		})
	}
}

func TestTTLHeaders(t *testing.T) {
	date := "Mon, 04 May 2026 12:00:00 GMT"
	tests := []struct {
		name string
		h    http.Header
		want time.Duration
	}{
		{"none", http.Header{}, discovery.DefaultTTL},
		{"max-age", http.Header{"Cache-Control": {"public, max-age=120"}}, 2 * time.Minute},
		{"max-age quoted", http.Header{"Cache-Control": {`max-age="120"`}}, 2 * time.Minute},
		{"max-age case", http.Header{"Cache-Control": {"Max-Age=120"}}, 2 * time.Minute},
		{"no-store wins", http.Header{"Cache-Control": {"max-age=120, no-store"}}, 0},
		{"malformed max-age", http.Header{"Cache-Control": {"max-age=abc"}}, 0},
		{"negative max-age", http.Header{"Cache-Control": {"max-age=-5"}}, 0},
		{"huge max-age", http.Header{"Cache-Control": {"max-age=99999999999999999999"}}, 0},
		{"max-age over a day", http.Header{"Cache-Control": {"max-age=999999999"}}, discovery.MaxTTL},
		{"two header lines", http.Header{"Cache-Control": {"public", "max-age=60"}}, time.Minute},
		{"Expires", http.Header{"Date": {date}, "Expires": {"Mon, 04 May 2026 13:00:00 GMT"}}, time.Hour},
		{"Expires in the past", http.Header{"Date": {date}, "Expires": {"Mon, 04 May 2026 11:00:00 GMT"}}, 0},
		{"Expires malformed", http.Header{"Date": {date}, "Expires": {"0"}}, 0},
		{"max-age beats Expires", http.Header{"Cache-Control": {"max-age=60"}, "Date": {date}, "Expires": {"Mon, 04 May 2026 13:00:00 GMT"}}, time.Minute},
	}
	for _, tc := range tests {
		if got := discovery.TTL(tc.h); got != tc.want {
			t.Errorf("%s: TTL = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestDiscoveryKeyRotation: a token naming a new kid triggers one refetch;
// further unknown kids within a minute fetch nothing.
func TestDiscoveryKeyRotation(t *testing.T) {
	f := newFixture(t, "max-age=86400")
	if err := f.verify(t, f.key); err != nil {
		t.Fatal(err)
	}
	f.wantFetches(t, 1, 1)
	f.clk.Add(2 * time.Minute)

	next := newKey(t)
	f.h.SetJWKS(idp.JWKS(f.key, next))
	if err := f.verify(t, next); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	f.wantFetches(t, 2, 2)

	// A flood of made-up kids within the minute costs the issuer nothing.
	for range 20 {
		wantCode(t, f.verify(t, newKey(t)), oidc.CodeUntrustedKey)
	}
	f.wantFetches(t, 2, 2)

	// A minute later an unknown kid may refetch again, once.
	f.clk.Add(discovery.MinRefetchInterval)
	wantCode(t, f.verify(t, newKey(t)), oidc.CodeUntrustedKey)
	wantCode(t, f.verify(t, newKey(t)), oidc.CodeUntrustedKey)
	f.wantFetches(t, 3, 3)

	// A removed key is refused once the set is refetched.
	f.h.SetJWKS(idp.JWKS(next))
	f.clk.Add(24 * time.Hour)
	if err := f.verify(t, next); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.verify(t, f.key), oidc.CodeUntrustedKey)
}

// TestDiscoveryIssuerDown: a failed fetch keeps the last good keys, and a
// down issuer is asked at most once a minute.
func TestDiscoveryIssuerDown(t *testing.T) {
	f := newFixture(t, "max-age=60")
	if err := f.verify(t, f.key); err != nil {
		t.Fatal(err)
	}
	f.down.Store(true)
	f.clk.Add(time.Hour)
	before := f.h.Requests()
	for range 5 {
		if err := f.verify(t, f.key); err != nil {
			t.Fatalf("with the issuer down: %v", err)
		}
	}
	st := f.src.Status()
	if st.Keys != 1 || !strings.Contains(st.LastError, "503") {
		t.Errorf("status %+v", st)
	}
	if st.Fetches != 2 {
		t.Errorf("%d fetch rounds, want 2 (one failed refetch, then none within the minute)", st.Fetches)
	}
	_ = before
	f.down.Store(false)
	f.clk.Add(time.Minute)
	if err := f.verify(t, f.key); err != nil {
		t.Fatal(err)
	}
	if st := f.src.Status(); st.LastError != "" || st.Fetches != 3 {
		t.Errorf("status after recovery %+v", st)
	}
}

func TestDiscoveryNeverFetched(t *testing.T) {
	f := newFixture(t, "")
	f.down.Store(true)
	_, err := oidc.Verify(context.Background(), f.token(t, f.key), f.cfg)
	if !errors.Is(err, oidc.ErrKeysUnavailable) {
		t.Fatalf("err = %v, want ErrKeysUnavailable", err)
	}
	// Within the minute the down issuer is not asked again.
	_, _ = oidc.Verify(context.Background(), f.token(t, f.key), f.cfg)
	if st := f.src.Status(); st.Fetches != 1 {
		t.Errorf("%d fetch rounds, want 1", st.Fetches)
	}
}

func TestDiscoveryRefusals(t *testing.T) {
	k := newKey(t)
	tests := []struct {
		name  string
		serve func(issuer string) http.HandlerFunc
		want  string
	}{
		{"issuer mismatch", func(issuer string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(`{"issuer":"https://evil.example","jwks_uri":"` + issuer + `/jwks"}`))
			}
		}, "names issuer"},
		{"issuer with trailing slash", func(issuer string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(`{"issuer":"` + issuer + `/","jwks_uri":"` + issuer + `/jwks"}`))
			}
		}, "names issuer"},
		{"jwks_uri over http", func(issuer string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(`{"issuer":"` + issuer + `","jwks_uri":"http://127.0.0.1:1/jwks"}`))
			}
		}, "https only"},
		{"redirect to http", func(issuer string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://127.0.0.1:1/x", http.StatusFound)
			}
		}, "https only"},
		{"document too large", func(issuer string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(`{"issuer":"` + issuer + `","pad":"` + strings.Repeat("x", oidc.MaxDiscoveryBytes) + `"}`))
			}
		}, "larger than"},
		{"duplicate issuer member", func(issuer string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(`{"issuer":"https://evil.example","issuer":"` + issuer + `","jwks_uri":"` + issuer + `/jwks"}`))
			}
		}, "duplicate"},
		{"JWKS with a private key", func(issuer string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/jwks") {
					_, _ = w.Write([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
					return
				}
				_, _ = w.Write([]byte(`{"issuer":"` + issuer + `","jwks_uri":"` + issuer + `/jwks"}`))
			}
		}, "private or symmetric"},
		{"404", func(string) http.HandlerFunc { return http.NotFound }, "404"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var issuer string
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tc.serve(issuer)(w, r) }))
			defer srv.Close()
			issuer = srv.URL
			src, err := discovery.New(issuer, discovery.Options{Client: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			set, err := src.KeySet(context.Background(), false)
			if set != nil || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("KeySet = %v, %v; want an error containing %q", set, err, tc.want)
			}
			if strings.Contains(err.Error(), "xxxxxxxx") || strings.Contains(err.Error(), "c2VjcmV0") {
				t.Errorf("error echoes the body: %v", err)
			}
			_ = k
		})
	}
}

// TestDiscoverySchemes: https only; plain http only on loopback and only
// with the explicit test switch.
func TestDiscoverySchemes(t *testing.T) {
	k := newKey(t)
	h := &idp.IssuerHandler{JWKS: idp.JWKS(k)}
	srv := httptest.NewServer(h) // plain http on 127.0.0.1
	defer srv.Close()
	h.Issuer = srv.URL

	if _, err := discovery.New(srv.URL, discovery.Options{}); err == nil || !strings.Contains(err.Error(), "https only") {
		t.Errorf("http issuer without the switch: %v", err)
	}
	for _, bad := range []string{"http://idp.example.com", "http://10.0.0.1", "http://127.0.0.1.nip.example", "ftp://127.0.0.1", "https://"} {
		if _, err := discovery.New(bad, discovery.Options{InsecureAllowHTTPLoopback: true}); err == nil {
			t.Errorf("%s accepted with the loopback switch", bad)
		}
	}
	for _, ok := range []string{"http://localhost:8080", "http://[::1]:8080", "http://127.0.0.2"} {
		if _, err := discovery.New(ok, discovery.Options{InsecureAllowHTTPLoopback: true}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	src, err := discovery.New(srv.URL, discovery.Options{InsecureAllowHTTPLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &oidc.Config{Issuer: srv.URL, Audience: audience, Keys: src}
	tok, _ := idp.SignJWT(idp.JWTOptions{Key: k, Issuer: srv.URL, Subject: "s", Audience: []string{audience}})
	if _, err := oidc.Verify(context.Background(), tok, cfg); err != nil {
		t.Fatalf("loopback http issuer with the switch: %v", err)
	}
}

// TestDiscoveryConcurrentFetchOnce: many verifications racing on a cold
// cache make one fetch round.
func TestDiscoveryConcurrentFetchOnce(t *testing.T) {
	f := newFixture(t, "")
	tok := f.token(t, f.key)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := oidc.Verify(context.Background(), tok, f.cfg)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	f.wantFetches(t, 1, 1)
}

// TestDiscoveryCallerCancel: a caller that gives up does not poison the
// cache; the fetch it started completes for the next caller.
func TestDiscoveryCallerCancel(t *testing.T) {
	f := newFixture(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	set, err := f.src.KeySet(ctx, false)
	if err != nil || set.Len() != 1 {
		t.Fatalf("KeySet with a cancelled context = %v, %v", set, err)
	}
}

// TestDiscoveryStaleWhileRefetching: once keys have expired, a caller that
// finds a refetch in flight gets the old keys at once instead of waiting
// on a slow issuer; a refresh for an unknown kid waits for the answer.
func TestDiscoveryStaleWhileRefetching(t *testing.T) {
	f := newFixture(t, "max-age=60")
	if err := f.verify(t, f.key); err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	block := func() {
		once.Do(func() { close(entered) })
		<-release
	}
	f.before.Store(&block)
	f.clk.Add(2 * time.Minute)

	done := make(chan error, 1)
	go func() {
		_, err := f.src.KeySet(context.Background(), false)
		done <- err
	}()
	<-entered
	// The refetch is in flight and blocked: this must not wait for it.
	if err := f.verify(t, f.key); err != nil {
		t.Fatalf("stale keys while refetching: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := f.src.Status(); st.Fetches != 2 || st.LastError != "" {
		t.Errorf("status %+v", st)
	}
}
