package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/server"
	"github.com/s3fed/s3fed/internal/store"
	"github.com/s3fed/s3fed/internal/store/teststore"
)

// output is a goroutine-safe sink for the server's banner and listening
// line that signals when the listening line has been written.
type output struct {
	mu        sync.Mutex
	b         bytes.Buffer
	listening chan struct{}
	once      sync.Once
}

func newOutput() *output { return &output{listening: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.b.Write(p)
	if strings.Contains(o.b.String(), "s3fed: API on ") {
		o.once.Do(func() { close(o.listening) })
	}
	return n, err
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

var tokenRe = regexp.MustCompile(`export S3FED_TOKEN=(\S+)`)

// rootToken returns the token the banner printed, or "".
func (o *output) rootToken() string {
	m := tokenRe.FindStringSubmatch(o.String())
	if m == nil {
		return ""
	}
	return m[1]
}

func testConfig(t *testing.T, dataDir string) (server.Config, *output, *output) {
	t.Helper()
	cfg := server.Defaults()
	cfg.APIAddr, cfg.S3Addr, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", dataDir
	out, logs := newOutput(), newOutput()
	cfg.Out = out
	cfg.Log = slog.New(slog.NewJSONHandler(logs, nil))
	return cfg, out, logs
}

// running is a started server; stop shuts it down and checks it exits cleanly.
type running struct {
	srv  *server.Server
	out  *output
	logs *output
	stop func()
}

func start(t *testing.T, cfg server.Config) *running {
	t.Helper()
	srv, err := server.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	out := cfg.Out.(*output)
	select {
	case <-out.listening:
	case err := <-done:
		cancel()
		t.Fatalf("Serve returned before listening: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("no listening line within 20s")
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve after shutdown: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("graceful shutdown took over 30s")
			}
		})
	}
	t.Cleanup(stop)
	return &running{srv: srv, out: out, stop: stop}
}

func get(t *testing.T, c *http.Client, url, token string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, resp.Header
}

var client = &http.Client{Timeout: 20 * time.Second}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(c *server.Config)
		err  string
	}{
		{"defaults", func(c *server.Config) {}, ""},
		{"clock skew 0", func(c *server.Config) { c.ClockSkew = 0 }, ""},
		{"clock skew 180s", func(c *server.Config) { c.ClockSkew = 180 * time.Second }, ""},
		{"clock skew 181s", func(c *server.Config) { c.ClockSkew = 181 * time.Second }, "--clock-skew"},
		{"clock skew 180s+1ns", func(c *server.Config) { c.ClockSkew = 180*time.Second + 1 }, "--clock-skew"},
		{"negative clock skew", func(c *server.Config) { c.ClockSkew = -time.Second }, "--clock-skew"},
		{"cert without key", func(c *server.Config) { c.TLSCert = "c.pem" }, "--tls-key"},
		{"key without cert", func(c *server.Config) { c.TLSKey = "k.pem" }, "--tls-cert"},
		{"empty data dir", func(c *server.Config) { c.DataDir = "" }, "--data-dir"},
		{"empty region", func(c *server.Config) { c.Region = "" }, "--region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := server.Defaults()
			tt.mod(&c)
			err := c.Validate()
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Validate = %v, want %q", err, tt.err)
			}
		})
	}
	d := server.Defaults()
	if d.S3Addr != "127.0.0.1:9000" || d.APIAddr != "127.0.0.1:9001" || d.DataDir != "./s3fed-data" || d.ClockSkew != 60*time.Second || d.Region != "us-east-1" {
		t.Errorf("defaults differ from API.md: %+v", d)
	}
}

// TestNewRefusesBadConfigBeforeCreating: an invalid configuration creates
// nothing on disk.
func TestNewRefusesBadConfigBeforeCreating(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg, _, _ := testConfig(t, dir)
	cfg.ClockSkew = 181 * time.Second
	if _, err := server.New(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "--clock-skew") {
		t.Fatalf("New with --clock-skew 181s: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data dir created for a refused config: %v", err)
	}
}

func TestKeyringFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	kr, err := server.LoadOrCreateKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("master key file mode %v, want 0600", fi.Mode().Perm())
	}
	if kr.Current != 1 || len(kr.Keys[1]) != 32 {
		t.Errorf("keyring %d epochs, current %d", len(kr.Keys), kr.Current)
	}
	// Reloading gives the same keys: the same secrets derive.
	kr2, err := server.LoadOrCreateKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	id := kr.NewAccessKeyID()
	s1, _ := kr.Secret(id)
	s2, _ := kr2.Secret(id)
	if s1 == "" || s1 != s2 {
		t.Error("reloaded keyring derives another secret")
	}
	// A fresh file elsewhere has another key.
	kr3, _ := server.LoadOrCreateKeyring(filepath.Join(dir, "other.key"))
	if s3, _ := kr3.Secret(id); s3 == s1 {
		t.Error("two created keyrings share a key")
	}

	for _, mode := range []os.FileMode{0o640, 0o644, 0o604, 0o660, 0o610, 0o601} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := server.LoadOrCreateKeyring(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %v: err = %v, want a refusal saying chmod 600", mode, err)
		}
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := server.LoadOrCreateKeyring(path); err != nil {
		t.Errorf("mode 0400 refused: %v", err)
	}

	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	bad := []struct {
		name, content, err string
	}{
		{"not JSON", "nope", "parse master key file"},
		{"no keys", `{"current":1,"keys":{}}`, "empty"},
		{"bad epoch", `{"current":1,"keys":{"x":"` + key + `"}}`, `bad epoch "x"`},
		{"bad base64", `{"current":1,"keys":{"1":"***"}}`, "epoch 1"},
		{"short key", `{"current":1,"keys":{"1":"` + base64.StdEncoding.EncodeToString([]byte("short")) + `"}}`, "at least 32"},
		{"current missing", `{"current":2,"keys":{"1":"` + key + `"}}`, "current epoch 2"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "master.key")
			if err := os.WriteFile(p, []byte(b.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := server.LoadOrCreateKeyring(p); err == nil || !strings.Contains(err.Error(), b.err) {
				t.Errorf("err = %v, want %q", err, b.err)
			}
		})
	}
	if _, err := server.LoadOrCreateKeyring(filepath.Join(dir, "missing-dir", "master.key")); err == nil {
		t.Error("created a key file in a missing directory")
	}
}

var listenRe = regexp.MustCompile(`s3fed: API on http://(127\.0\.0\.1:\d+), S3 on http://(127\.0\.0\.1:\d+), data in (.+)\n`)

func TestServeAndRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg, out, logs := testConfig(t, dir)
	r := start(t, cfg)
	tok := out.rootToken()
	if tok == "" || !strings.Contains(out.String(), "Root admin token (shown once") {
		t.Fatalf("no root token banner:\n%s", out)
	}
	if strings.Count(out.String(), tok) != 2 {
		t.Errorf("banner prints the token %d times, want 2 (line and export)", strings.Count(out.String(), tok))
	}
	m := listenRe.FindStringSubmatch(out.String())
	if m == nil || m[1] != r.srv.APIAddr() || m[2] != r.srv.S3Addr() || m[3] != dir {
		t.Fatalf("listening line: %q (API %s, S3 %s)", out, r.srv.APIAddr(), r.srv.S3Addr())
	}
	if r.srv.PublicURL() != "http://"+r.srv.APIAddr() {
		t.Errorf("public URL %q", r.srv.PublicURL())
	}
	// What the first start created.
	for path, mode := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "master.key"): 0o600, server.StatePath(dir): 0} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if mode != 0 && fi.Mode().Perm() != mode {
			t.Errorf("%s mode %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}
	// The root token is stored only as a hash.
	if db, _ := os.ReadFile(server.StatePath(dir)); bytes.Contains(db, []byte(tok)) {
		t.Error("the state file contains the root token in clear")
	}

	api := "http://" + r.srv.APIAddr()
	if st, m, h := get(t, client, api+"/healthz", ""); st != 200 || m["status"] != "ok" || h.Get("X-Request-Id") == "" {
		t.Errorf("/healthz: %d %v", st, m)
	}
	if st, m, _ := get(t, client, api+"/readyz", ""); st != 200 || m["status"] != "ready" {
		t.Errorf("/readyz: %d %v", st, m)
	}
	if st, m, _ := get(t, client, api+"/v1/admin/orgs", tok); st != 200 || m["orgs"] == nil {
		t.Errorf("root token: %d %v", st, m)
	}
	if st, m, _ := get(t, client, api+"/v1/admin/orgs", "s3fed_wrong"); st != 401 || m["code"] != "unauthenticated" {
		t.Errorf("wrong token: %d %v", st, m)
	}
	// The S3 listener answers HTTP.
	if resp, err := client.Get("http://" + r.srv.S3Addr() + "/"); err != nil {
		t.Errorf("S3 listener: %v", err)
	} else {
		resp.Body.Close()
	}
	// Create an org, then restart.
	req, _ := http.NewRequest("POST", api+"/v1/admin/orgs", strings.NewReader(`{"id":"acme"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := client.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("create org: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if !strings.Contains(logs.String(), `"request_id"`) {
		t.Errorf("request logs lack request IDs:\n%s", logs)
	}
	r.stop()
	if _, err := client.Get(api + "/healthz"); err == nil {
		t.Error("API still answers after shutdown")
	}

	cfg2, out2, _ := testConfig(t, dir)
	r2 := start(t, cfg2)
	if strings.Contains(out2.String(), "Root admin token") || out2.rootToken() != "" {
		t.Errorf("second start printed a root token:\n%s", out2)
	}
	api2 := "http://" + r2.srv.APIAddr()
	if st, m, _ := get(t, client, api2+"/v1/admin/orgs/acme", tok); st != 200 || m["id"] != "acme" {
		t.Errorf("after restart: %d %v", st, m)
	}
	r2.stop()

	// S3FED_ROOT_TOKEN replaces the root token; the printed one stops working.
	cfg3, out3, _ := testConfig(t, dir)
	cfg3.RootToken = "operator-chosen-root-token"
	r3 := start(t, cfg3)
	if strings.Contains(out3.String(), "Root admin token") {
		t.Errorf("S3FED_ROOT_TOKEN start printed a token:\n%s", out3)
	}
	api3 := "http://" + r3.srv.APIAddr()
	if st, _, _ := get(t, client, api3+"/v1/admin/orgs", "operator-chosen-root-token"); st != 200 {
		t.Errorf("S3FED_ROOT_TOKEN: %d", st)
	}
	if st, _, _ := get(t, client, api3+"/v1/admin/orgs", tok); st != 401 {
		t.Errorf("old root token after S3FED_ROOT_TOKEN: %d, want 401", st)
	}
	r3.stop()

	// A master key file others can read stops the server.
	if err := os.Chmod(filepath.Join(dir, "master.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg4, _, _ := testConfig(t, dir)
	if _, err := server.New(t.Context(), cfg4); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("New with a world-readable master key: %v", err)
	}
}

func TestRootTokenFromEnvOnFirstStart(t *testing.T) {
	dir := t.TempDir()
	cfg, out, _ := testConfig(t, dir)
	cfg.RootToken = "short"
	if _, err := server.New(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "16") {
		t.Errorf("short S3FED_ROOT_TOKEN: %v", err)
	}
	cfg.RootToken = strings.Repeat("r", 16)
	r := start(t, cfg)
	if strings.Contains(out.String(), "Root admin token") {
		t.Errorf("printed a token although S3FED_ROOT_TOKEN was set:\n%s", out)
	}
	if st, _, _ := get(t, client, "http://"+r.srv.APIAddr()+"/v1/admin/orgs", cfg.RootToken); st != 200 {
		t.Errorf("S3FED_ROOT_TOKEN on first start: %d", st)
	}
	r.stop()
}

func TestReadyzUnavailable(t *testing.T) {
	cfg, _, _ := testConfig(t, t.TempDir())
	r := start(t, cfg)
	if err := r.srv.Store.Close(); err != nil {
		t.Fatal(err)
	}
	st, m, _ := get(t, client, "http://"+r.srv.APIAddr()+"/readyz", "")
	if st != 503 || m["status"] != "unavailable" {
		t.Errorf("/readyz with a closed store: %d %v", st, m)
	}
	if st, _, _ := get(t, client, "http://"+r.srv.APIAddr()+"/healthz", ""); st != 200 {
		t.Errorf("/healthz must stay up (liveness): %d", st)
	}
}

func TestListenerErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, which := range []string{"API", "S3"} {
		cfg, _, _ := testConfig(t, t.TempDir())
		if which == "API" {
			cfg.APIAddr = ln.Addr().String()
		} else {
			cfg.S3Addr = ln.Addr().String()
		}
		if _, err := server.New(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), which+" listener") {
			t.Errorf("%s port in use: %v", which, err)
		}
	}
}

// writeTestCert writes a self-signed P-256 certificate for 127.0.0.1 and
// returns the file paths and a pool trusting it.
func writeTestCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeTestCert(t, dir)
	cfg, out, _ := testConfig(t, filepath.Join(dir, "data"))
	cfg.TLSCert, cfg.TLSKey = certFile, keyFile
	r := start(t, cfg)
	if !strings.Contains(out.String(), "API on https://"+r.srv.APIAddr()+", S3 on https://"+r.srv.S3Addr()) {
		t.Errorf("listening line: %s", out)
	}
	if r.srv.PublicURL() != "https://"+r.srv.APIAddr() {
		t.Errorf("public URL %q", r.srv.PublicURL())
	}
	tc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if st, m, _ := get(t, tc, "https://"+r.srv.APIAddr()+"/healthz", ""); st != 200 || m["status"] != "ok" {
		t.Errorf("https /healthz: %d %v", st, m)
	}
	if st, _, _ := get(t, tc, "https://"+r.srv.APIAddr()+"/v1/admin/orgs", out.rootToken()); st != 200 {
		t.Errorf("https admin: %d", st)
	}
	resp, err := tc.Get("https://" + r.srv.S3Addr() + "/")
	if err != nil {
		t.Errorf("https S3 listener: %v", err)
	} else {
		resp.Body.Close()
		if resp.TLS == nil {
			t.Error("S3 answer not over TLS")
		}
	}
	// Plain HTTP to a TLS listener gets no API answer.
	if resp, err := client.Get("http://" + r.srv.APIAddr() + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP served on the TLS API listener")
		}
	}

	// A key that does not match the certificate is refused at start.
	_, otherKey, _ := writeTestCert(t, t.TempDir())
	cfg2, _, _ := testConfig(t, filepath.Join(dir, "data2"))
	cfg2.TLSCert, cfg2.TLSKey = certFile, otherKey
	if _, err := server.New(t.Context(), cfg2); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("mismatched TLS key: %v", err)
	}
	cfg2.TLSKey = filepath.Join(dir, "missing.key")
	if _, err := server.New(t.Context(), cfg2); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("missing TLS key: %v", err)
	}
}

// TestSetRootTokenAudited: replacing the root token leaves an audit event.
func TestSetRootTokenAudited(t *testing.T) { teststore.Each(t, testSetRootTokenAudited) }

func testSetRootTokenAudited(t *testing.T, b teststore.Backend) {
	dir := t.TempDir()
	st, err := server.OpenState(t.Context(), dir, b.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := server.SetRootToken(t.Context(), st, "first-root-token-xxxx", "test"); err != nil {
		t.Fatal(err)
	}
	if err := server.SetRootToken(t.Context(), st, "second-root-token-xxx", "test"); err != nil {
		t.Fatal(err)
	}
	tok, err := st.GetToken(t.Context(), "root")
	if err != nil || tok.Hash == "" || strings.Contains(tok.Hash, "second") {
		t.Fatalf("root token row %+v, %v", tok, err)
	}
	if _, err := st.GetTokenByHash(t.Context(), tok.Hash); err != nil {
		t.Error(err)
	}
	evs, err := st.ListEvents(t.Context(), store.EventFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Action != "root-token.set" || evs[0].Outcome != "success" || evs[0].Details["via"] != "test" {
		t.Errorf("root token audit events: %+v", evs)
	}
	for _, ev := range evs {
		if b, _ := json.Marshal(ev); strings.Contains(string(b), "root-token-x") {
			t.Errorf("audit event holds the token: %s", b)
		}
	}
}
