package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/store/teststore"
)

// The end-to-end tests run the real binary: built once per package run,
// started with `s3fed serve` on free ports and a temp data dir, driven by
// the `s3fed admin` CLI, stopped with SIGTERM and restarted. Nothing waits
// on a timer: readiness is the listening line the server prints after its
// listeners are bound; every wait has a deadline.

var (
	e2eBuildOnce sync.Once
	e2eBuildDir  string
	e2eBin       string
	e2eBuildErr  error
)

// e2eBinary builds ./cmd/s3fed once and returns the binary's path.
func e2eBinary(t *testing.T) string {
	t.Helper()
	e2eBuildOnce.Do(func() {
		e2eBuildDir, e2eBuildErr = os.MkdirTemp("", "s3fed-e2e-bin-")
		if e2eBuildErr != nil {
			return
		}
		e2eBin = filepath.Join(e2eBuildDir, "s3fed")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", e2eBin, ".").CombinedOutput()
		if err != nil {
			e2eBuildErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if e2eBuildErr != nil {
		t.Fatal(e2eBuildErr)
	}
	return e2eBin
}

// e2eEnv is the environment without any S3FED_* variable of the caller's,
// plus extra.
func e2eEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "S3FED_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// syncBuffer collects a process's output for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveProc is a running `s3fed serve`.
type serveProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout *syncBuffer // everything printed on stdout
	stderr *syncBuffer
	done   chan struct{}
	// before is the stdout printed up to and including the listening line.
	before string
	api    string // http://ADDR of the JSON API
	s3     string
	token  string // root token from the banner, "" when none was printed
}

var (
	e2eListenRe = regexp.MustCompile(`^s3fed: API on (https?://\S+), S3 on (https?://\S+), data in (.+)$`)
	e2eTokenRe  = regexp.MustCompile(`^export S3FED_TOKEN=(\S+)$`)
)

// startServe starts the binary with args and env and waits (60s at most)
// for its listening line.
func startServe(t *testing.T, env []string, args ...string) *serveProc {
	t.Helper()
	p := &serveProc{t: t, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(e2eBinary(t), append([]string{"serve"}, args...)...)
	p.cmd.Env = env
	p.cmd.Stderr = p.stderr
	pipe, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			p.stdout.Write([]byte(sc.Text() + "\n"))
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, pipe)
	}()
	scanned := make(chan struct{})
	go func() {
		// exec requires stdout to be read to the end before Wait.
		<-scanned
		_ = p.cmd.Wait()
		close(p.done)
	}()
	var before strings.Builder
	deadline := time.After(60 * time.Second)
	for p.api == "" {
		select {
		case l, open := <-lines:
			if !open {
				close(scanned)
				<-p.done
				t.Fatalf("serve exited before listening (%v)\nstdout:\n%s\nstderr:\n%s", p.cmd.ProcessState, p.stdout, p.stderr)
			}
			before.WriteString(l + "\n")
			if m := e2eTokenRe.FindStringSubmatch(l); m != nil {
				p.token = m[1]
			}
			if m := e2eListenRe.FindStringSubmatch(l); m != nil {
				p.api, p.s3 = m[1], m[2]
			}
		case <-deadline:
			_ = p.cmd.Process.Kill()
			go func() {
				for range lines {
				}
				close(scanned)
			}()
			<-p.done
			t.Fatalf("no listening line within 60s\nstdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
		}
	}
	p.before = before.String()
	go func() {
		for range lines {
		}
		close(scanned)
	}()
	t.Cleanup(p.kill)
	return p
}

// stop sends SIGTERM and requires a clean exit within 30s.
func (p *serveProc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.kill()
		p.t.Fatalf("serve did not exit within 30s of SIGTERM\nstderr:\n%s", p.stderr)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		p.t.Fatalf("serve exited %d after SIGTERM, want 0\nstderr:\n%s", code, p.stderr)
	}
	if strings.Contains(p.stderr.String(), "panic") {
		p.t.Errorf("server log mentions a panic:\n%s", p.stderr)
	}
}

func (p *serveProc) kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// dbFlag returns backend b's database URL ("" for SQLite in the data dir)
// and the serve/reset-root-token flags that name it.
func dbFlag(t *testing.T, b teststore.Backend) (string, []string) {
	t.Helper()
	u := b.DatabaseURL(t)
	if u == "" {
		return "", nil
	}
	return u, []string{"--database-url", u}
}

// cliResult is one CLI run.
type cliResult struct {
	stdout, stderr string
	code           int
}

// json decodes stdout as a JSON object.
func (r cliResult) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("CLI output is not a JSON object: %v\n%s", err, r.stdout)
	}
	return m
}

// cli runs the binary with args against api with token, in dir.
func cli(t *testing.T, dir, api, token string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e2eBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = e2eEnv("S3FED_API="+api, "S3FED_TOKEN="+token)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %v: %v", args, err)
	}
	return cliResult{stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode()}
}

// ok runs the CLI and requires exit status 0.
func ok(t *testing.T, dir, api, token string, args ...string) cliResult {
	t.Helper()
	r := cli(t, dir, api, token, args...)
	if r.code != 0 {
		t.Fatalf("s3fed %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// fails runs the CLI and requires a non-zero exit with stderr containing want.
func fails(t *testing.T, dir, api, token, want string, args ...string) {
	t.Helper()
	r := cli(t, dir, api, token, args...)
	if r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("s3fed %s: exit %d, stderr %q; want failure containing %q", strings.Join(args, " "), r.code, r.stderr, want)
	}
}

func TestE2EServeAdminRestart(t *testing.T) { teststore.Each(t, testE2EServeAdminRestart) }

func testE2EServeAdminRestart(t *testing.T, b teststore.Backend) {
	work := t.TempDir()
	data := filepath.Join(work, "data")
	dbURL, db := dbFlag(t, b)
	srv := startServe(t, e2eEnv(), append([]string{"--api-addr", "127.0.0.1:0", "--s3-addr", "127.0.0.1:0", "--data-dir", data}, db...)...)
	root := srv.token
	if root == "" || !strings.Contains(srv.before, "Root admin token (shown once") {
		t.Fatalf("first start printed no root token:\n%s", srv.before)
	}
	if !strings.HasSuffix(strings.TrimSpace(srv.before), "data in "+data) {
		t.Errorf("listening line does not name the data dir:\n%s", srv.before)
	}
	if fi, err := os.Stat(filepath.Join(data, "master.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("master key file: %v %v", fi, err)
	}
	resp, err := http.Get(srv.api + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
	api := srv.api

	// --help a newcomer can follow.
	if h := ok(t, work, api, "", "admin", "--help").stdout; !strings.Contains(h, "S3FED_TOKEN") || !strings.Contains(h, "create-saml") {
		t.Errorf("admin --help:\n%s", h)
	}

	// Orgs and tokens with the root token.
	org := ok(t, work, api, root, "admin", "org", "create", "acme", "--name", "Acme Corp").json(t)
	if org["id"] != "acme" || org["name"] != "Acme Corp" {
		t.Errorf("org create: %v", org)
	}
	fails(t, work, api, root, "already_exists (HTTP 409)", "admin", "org", "create", "acme")
	fails(t, work, api, root, "invalid_argument (HTTP 400)", "admin", "org", "create", "Not-Valid")
	fails(t, work, api, "", "unauthenticated (HTTP 401)", "admin", "org", "list")
	tokOut := ok(t, work, api, root, "admin", "token", "create", "--org", "acme", "--description", "e2e").json(t)
	orgTok, _ := tokOut["token"].(string)
	if orgTok == "" {
		t.Fatalf("token create: %v", tokOut)
	}
	fails(t, work, api, orgTok, "permission_denied (HTTP 403)", "admin", "org", "create", "other")
	ok(t, work, api, root, "admin", "org", "create", "other")
	if l := ok(t, work, api, orgTok, "admin", "org", "list", "-o", "table").stdout; !strings.Contains(l, "acme") || strings.Contains(l, "other") {
		t.Errorf("org token's org list:\n%s", l)
	}
	fails(t, work, api, orgTok, "not_found (HTTP 404)", "admin", "config", "list", "--org", "other")

	// A SAML config from the test IdP's certificate, with the org token.
	kg := ok(t, work, api, "", "idp", "keygen")
	if !strings.Contains(kg.stdout, "idp-cert.pem") {
		t.Fatalf("idp keygen: %s", kg.stdout)
	}
	cfg := ok(t, work, api, orgTok, "admin", "config", "create-saml", "--org", "acme", "--name", "test-idp",
		"--idp-entity-id", "s3fed-test-idp", "--cert", "idp-cert.pem").json(t)
	cfgID, _ := cfg["configId"].(string)
	if cfgID == "" || cfg["active"] != true || cfg["acsUrl"] != api+"/m2m-saml-acs" || cfg["audience"] != api+"/accounts/saml/acme/metadata/" {
		t.Fatalf("config create: %v", cfg)
	}
	fails(t, work, api, orgTok, "invalid_argument (HTTP 400)", "admin", "config", "create-saml", "--org", "acme", "--name", "x",
		"--idp-entity-id", "y", "--cert", "idp-key.pem")
	table := ok(t, work, api, orgTok, "admin", "config", "list", "--org", "acme", "-o", "table").stdout
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "CONFIGID KIND NAME IDPENTITYID ACTIVE" ||
		strings.Join(strings.Fields(lines[1]), " ") != cfgID+" saml test-idp s3fed-test-idp true" {
		t.Errorf("config table:\n%s", table)
	}
	upd := ok(t, work, api, orgTok, "admin", "config", "update", "--org", "acme", cfgID, "--active=false").json(t)
	if upd["active"] != false || upd["name"] != "test-idp" {
		t.Errorf("config update: %v", upd)
	}
	if keys := ok(t, work, api, orgTok, "admin", "keys", "list", "--org", "acme").json(t); keys["accessKeys"] == nil {
		t.Errorf("keys list: %v", keys)
	}
	audit := ok(t, work, api, orgTok, "admin", "audit", "--org", "acme", "-o", "table").stdout
	for _, action := range []string{"org.create", "token.create", "config.create", "config.update"} {
		if !strings.Contains(audit, action) {
			t.Errorf("audit table lacks %s:\n%s", action, audit)
		}
	}

	// Graceful shutdown, then a restart on the same data dir, configured
	// through the environment this time.
	srv.stop()
	srv2 := startServe(t, e2eEnv("S3FED_API_ADDR=127.0.0.1:0", "S3FED_S3_ADDR=127.0.0.1:0", "S3FED_DATA_DIR="+data, "S3FED_DATABASE_URL="+dbURL))
	if srv2.token != "" || strings.Contains(srv2.before, "Root admin token") {
		t.Errorf("restart printed a new root token:\n%s", srv2.before)
	}
	api = srv2.api
	if l := ok(t, work, api, root, "admin", "org", "list", "-o", "table").stdout; !strings.Contains(l, "acme") || !strings.Contains(l, "Acme Corp") || !strings.Contains(l, "other") {
		t.Errorf("orgs after restart:\n%s", l)
	}
	got := ok(t, work, api, orgTok, "admin", "config", "get", "--org", "acme", cfgID).json(t)
	if got["active"] != false || got["idpEntityId"] != "s3fed-test-idp" || got["acsUrl"] != api+"/m2m-saml-acs" {
		t.Errorf("config after restart: %v", got)
	}

	// The rest of the admin CLI: tokens, keys, revocation, config delete.
	if l := ok(t, work, api, orgTok, "admin", "token", "list", "--org", "acme", "-o", "table").stdout; !strings.Contains(l, "e2e") || strings.Contains(l, orgTok) {
		t.Errorf("token list:\n%s", l)
	}
	tok2 := ok(t, work, api, root, "admin", "token", "create", "--org", "acme").json(t)
	ok(t, work, api, tok2["token"].(string), "admin", "org", "get", "acme")
	fails(t, work, api, orgTok, "permission_denied", "admin", "token", "revoke", "--org", "acme", tok2["id"].(string))
	ok(t, work, api, root, "admin", "token", "revoke", "--org", "acme", tok2["id"].(string))
	fails(t, work, api, tok2["token"].(string), "unauthenticated", "admin", "org", "get", "acme")
	fails(t, work, api, orgTok, "not_found", "admin", "keys", "revoke", "SFEDAAAAAAAAAAAAAAAAAAAAAAAA")
	fails(t, work, api, root, "orgId", "admin", "keys", "revoke-principal", "saml/nobody")
	ok(t, work, api, root, "admin", "keys", "revoke-principal", "saml/nobody", "--org", "acme")
	ok(t, work, api, orgTok, "admin", "keys", "revoke-principal", "saml/nobody")
	if k := ok(t, work, api, orgTok, "admin", "keys", "list", "--org", "acme", "--status", "REVOKED", "-o", "table").stdout; !strings.HasPrefix(k, "ACCESSKEYID") {
		t.Errorf("keys table:\n%s", k)
	}
	if r := ok(t, work, api, orgTok, "admin", "config", "revoke-keys", "--org", "acme", cfgID).json(t); r["revoked"] != float64(0) {
		t.Errorf("revoke-keys: %v", r)
	}
	cfg2 := ok(t, work, api, orgTok, "admin", "config", "create-saml", "--org", "acme", "--name", "doomed",
		"--idp-entity-id", "urn:doomed", "--cert", "idp-cert.pem", "--active=false", "--max-duration", "900").json(t)
	if cfg2["active"] != false || cfg2["maxDurationSeconds"] != float64(900) {
		t.Errorf("create-saml flags: %v", cfg2)
	}
	ok(t, work, api, orgTok, "admin", "config", "delete", "--org", "acme", cfg2["configId"].(string))
	fails(t, work, api, orgTok, "not_found (HTTP 404)", "admin", "config", "get", "--org", "acme", cfg2["configId"].(string))
	if ev := ok(t, work, api, orgTok, "admin", "audit", "--org", "acme", "--limit", "1").json(t); len(ev["events"].([]any)) != 1 {
		t.Errorf("audit --limit 1: %v", ev)
	}

	// A lost root token is replaced offline, even while the server runs.
	fails(t, work, api, "", "no s3fed state", "admin", "reset-root-token", "--data-dir", filepath.Join(work, "nowhere"))
	if _, err := os.Stat(filepath.Join(work, "nowhere")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reset-root-token created a data dir: %v", err)
	}
	reset := ok(t, work, api, "", append([]string{"admin", "reset-root-token", "--data-dir", data}, db...)...).stdout
	var newRoot string
	for _, l := range strings.Split(reset, "\n") {
		if m := e2eTokenRe.FindStringSubmatch(l); m != nil {
			newRoot = m[1]
		}
	}
	if newRoot == "" || newRoot == root {
		t.Fatalf("reset-root-token output:\n%s", reset)
	}
	fails(t, work, api, root, "unauthenticated (HTTP 401)", "admin", "org", "list")
	ok(t, work, api, newRoot, "admin", "org", "list")
	ok(t, work, api, orgTok, "admin", "config", "get", "--org", "acme", cfgID)
	srv2.stop()

	// The new root token survives a restart too.
	srv3 := startServe(t, e2eEnv(), append([]string{"--api-addr", "127.0.0.1:0", "--s3-addr", "127.0.0.1:0", "--data-dir", data}, db...)...)
	if srv3.token != "" {
		t.Errorf("third start printed a root token")
	}
	ok(t, work, srv3.api, newRoot, "admin", "org", "get", "acme")
	fails(t, work, srv3.api, root, "unauthenticated", "admin", "org", "get", "acme")
	srv3.stop()
}

func TestE2EServeRefusesBadFlags(t *testing.T) {
	work := t.TempDir()
	data := filepath.Join(work, "data")
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"clock skew over 180s", nil, []string{"--clock-skew", "181s"}, "--clock-skew"},
		{"clock skew from env", []string{"S3FED_CLOCK_SKEW=10m"}, nil, "--clock-skew"},
		{"bad env duration", []string{"S3FED_CLOCK_SKEW=soon"}, nil, "S3FED_CLOCK_SKEW"},
		{"tls cert without key", nil, []string{"--tls-cert", "x.pem"}, "--tls-key"},
		{"bad log level", nil, []string{"--log-level", "loud"}, "--log-level"},
		{"stray argument", nil, []string{"now"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			args := append([]string{"serve", "--data-dir", data, "--api-addr", "127.0.0.1:0", "--s3-addr", "127.0.0.1:0"}, tt.args...)
			cmd := exec.CommandContext(ctx, e2eBinary(t), args...)
			cmd.Env = e2eEnv(tt.env...)
			out, err := cmd.CombinedOutput()
			if err == nil || cmd.ProcessState.ExitCode() == 0 || !strings.Contains(string(out), tt.want) {
				t.Errorf("exit %v, output %q; want a failure naming %q", err, out, tt.want)
			}
			if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("data dir created by a refused start")
			}
		})
	}
}

// TestE2ERootTokenFromEnv: S3FED_ROOT_TOKEN sets the root token; nothing
// is printed.
func TestE2ERootTokenFromEnv(t *testing.T) { teststore.Each(t, testE2ERootTokenFromEnv) }

func testE2ERootTokenFromEnv(t *testing.T, b teststore.Backend) {
	work := t.TempDir()
	const tok = "env-chosen-root-token-0123"
	srv := startServe(t, e2eEnv("S3FED_ROOT_TOKEN="+tok, "S3FED_DATA_DIR="+filepath.Join(work, "data"), "S3FED_DATABASE_URL="+b.DatabaseURL(t)),
		"--api-addr", "127.0.0.1:0", "--s3-addr", "127.0.0.1:0")
	if srv.token != "" || strings.Contains(srv.before, "Root admin token") {
		t.Errorf("a root token was printed although S3FED_ROOT_TOKEN is set:\n%s", srv.before)
	}
	ok(t, work, srv.api, tok, "admin", "org", "create", "envorg")
	fails(t, work, srv.api, "s3fed_other", "unauthenticated", "admin", "org", "list")
	srv.stop()
}
