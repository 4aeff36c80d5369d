package s3gw

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3fed/s3fed/internal/idp"
)

const (
	// rootToken is the s3fed root token the harness fixes through
	// S3FED_ROOT_TOKEN so it can create the org without reading a banner.
	rootToken = "s3fed_bench-root-token-for-benchmarks"
	// benchOrg is the org whose keys drive the s3fed side.
	benchOrg = "bench"
	// allowAll is the org policy: the benchmark measures the gateway, not
	// a denial.
	allowAll = `{"version":"v1alpha1","name":"all","statements":[{"name":"all","effect":"Allow","actions":["*"],"resources":["*"],"principals":["*"]}]}`
	// vgwAccess and vgwSecret are versitygw's root keys (loopback only).
	vgwAccess = "benchvgwaccesskey"
	vgwSecret = "benchvgwsecretkey0123456789abcdef"
	// startTimeout bounds how long a server may take to start listening.
	startTimeout = 60 * time.Second
)

// gw is one S3 gateway child process and a client configured for it.
type gw struct {
	name   string
	cmd    *exec.Cmd
	dir    string
	client *s3.Client
	done   chan struct{} // closed when the process has exited
}

// pid is the server's process ID, for reading its /proc status.
func (s *gw) pid() int { return s.cmd.Process.Pid }

// stop kills the process and removes its data dir.
func (s *gw) stop() {
	_ = s.cmd.Process.Kill()
	<-s.done
	_ = os.RemoveAll(s.dir)
}

// newClient is the one S3 client configuration both servers are driven
// with: path style, static keys, the SDK's default HTTP client (10 idle
// connections per host, enough for concurrency 8) and no retries, so a
// failing request fails the benchmark instead of being hidden.
func newClient(endpoint, access, secret string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(access, secret, ""),
		Retryer:      aws.NopRetryer{},
	})
}

// binDir is the temp dir holding the built s3fed binary ("" until built);
// TestMain removes it.
var binDir string

// buildS3fed builds ../../cmd/s3fed once per benchmark binary run.
var buildS3fed = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "s3gw-bench-bin")
	if err != nil {
		return "", fmt.Errorf("temp dir for the s3fed binary: %w", err)
	}
	binDir = dir
	bin := filepath.Join(dir, "s3fed")
	out, err := exec.Command("go", "build", "-C", "../..", "-o", bin, "./cmd/s3fed").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/s3fed: %w\n%s", err, out)
	}
	return bin, nil
})

var listening = regexp.MustCompile(`^s3fed: API on (\S+), S3 on (\S+), data in`)

// startS3fed runs `s3fed serve` on a fresh data dir, creates the bench org,
// a SAML config, an allow-all policy and a bucket, and exchanges a signed
// SAML Response for keys.
func startS3fed(bucket string) (*gw, error) {
	bin, err := buildS3fed()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "s3gw-bench-s3fed")
	if err != nil {
		return nil, fmt.Errorf("s3fed data dir: %w", err)
	}
	cmd := exec.Command(bin, "serve", "--data-dir", dir, "--api-addr", "127.0.0.1:0",
		"--s3-addr", "127.0.0.1:0", "--log-level", "warn")
	cmd.Env = append(os.Environ(), "S3FED_ROOT_TOKEN="+rootToken)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("s3fed stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start s3fed: %w", err)
	}
	s := &gw{name: "s3fed", cmd: cmd, dir: dir, done: make(chan struct{})}
	lines := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				lines <- m
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { _ = cmd.Wait(); close(s.done) }()
	var api, s3url string
	select {
	case m := <-lines:
		api, s3url = m[1], m[2]
	case <-s.done:
		_ = os.RemoveAll(dir)
		return nil, errors.New("s3fed exited before listening")
	case <-time.After(startTimeout):
		s.stop()
		return nil, fmt.Errorf("s3fed did not listen within %s", startTimeout)
	}
	ak, sk, err := s3fedKeys(api)
	if err != nil {
		s.stop()
		return nil, err
	}
	s.client = newClient(s3url, ak, sk)
	if err := createBucket(s.client, bucket, s.done); err != nil {
		s.stop()
		return nil, fmt.Errorf("s3fed: %w", err)
	}
	return s, nil
}

// s3fedKeys provisions the bench org through the admin API and returns keys
// from a real SAML exchange.
func s3fedKeys(api string) (string, string, error) {
	certPEM, keyPEM, err := idp.Keygen(idp.KeygenOptions{})
	if err != nil {
		return "", "", fmt.Errorf("test IdP keygen: %w", err)
	}
	kp, err := idp.ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		return "", "", fmt.Errorf("test IdP key pair: %w", err)
	}
	if _, err := apiCall(api, "POST", "/v1/admin/orgs", map[string]any{"id": benchOrg}, 201); err != nil {
		return "", "", err
	}
	cfg, err := apiCall(api, "POST", "/v1/admin/orgs/"+benchOrg+"/workload-federation/saml",
		map[string]any{"name": "b", "idpEntityId": idp.DefaultCommonName, "x509Certificate": string(certPEM)}, 201)
	if err != nil {
		return "", "", err
	}
	var pol map[string]any
	if err := json.Unmarshal([]byte(allowAll), &pol); err != nil {
		return "", "", fmt.Errorf("allow-all policy: %w", err)
	}
	if _, err := apiCall(api, "PUT", "/v1/admin/orgs/"+benchOrg+"/access-policies/all", pol, 201); err != nil {
		return "", "", err
	}
	resp, err := idp.SignBase64(idp.SignOptions{KeyPair: kp, OrgID: benchOrg, Principal: "bench@bench.test", Role: "writer", PublicURL: api})
	if err != nil {
		return "", "", fmt.Errorf("sign SAML response: %w", err)
	}
	out, err := apiCall(api, "POST", "/v1/cwobject/temporary-credentials/saml",
		map[string]any{"orgId": benchOrg, "configId": cfg["configId"], "samlResponse": resp, "durationSeconds": 43200}, 200)
	if err != nil {
		return "", "", err
	}
	ak, _ := out["accessKeyId"].(string)
	sk, _ := out["secretKey"].(string)
	if ak == "" || sk == "" {
		return "", "", fmt.Errorf("exchange answered no keys: %v", out)
	}
	return ak, sk, nil
}

// apiCall sends one JSON request with the root token and decodes the answer.
func apiCall(api, method, path string, body any, want int) (map[string]any, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: encode: %w", method, path, err)
	}
	req, err := http.NewRequest(method, api+path, bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+rootToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: status %d %s, want %d", method, path, resp.StatusCode, raw, want)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return out, nil
}

// errNoVersitygw means the peer gateway is not installed.
var errNoVersitygw = errors.New("versitygw not found")

// versitygwBinary finds versitygw: $VERSITYGW, then the GOBIN the README
// installs into, then $PATH.
func versitygwBinary() (string, error) {
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p, nil
	}
	if _, err := os.Stat("/tmp/s3fed-bench/bin/versitygw"); err == nil {
		return "/tmp/s3fed-bench/bin/versitygw", nil
	}
	p, err := exec.LookPath("versitygw")
	if err != nil {
		return "", fmt.Errorf("%w (GOBIN=/tmp/s3fed-bench/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0, or set VERSITYGW): %w", errNoVersitygw, err)
	}
	return p, nil
}

// startVersitygw runs `versitygw posix` with keep-alive on a fresh temp dir
// on a free loopback port and creates the bucket.
func startVersitygw(bucket string) (*gw, error) {
	bin, err := versitygwBinary()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "s3gw-bench-vgw")
	if err != nil {
		return nil, fmt.Errorf("versitygw root dir: %w", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "--port", addr, "--access", vgwAccess, "--secret", vgwSecret,
		"--region", "us-east-1", "--keep-alive", "--quiet", "posix", dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+vgwAccess, "ROOT_SECRET_ACCESS_KEY="+vgwSecret)
	cmd.Stdout = io.Discard
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start versitygw: %w", err)
	}
	s := &gw{name: "versitygw", cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	s.client = newClient("http://"+addr, vgwAccess, vgwSecret)
	if err := createBucket(s.client, bucket, s.done); err != nil {
		s.stop()
		return nil, fmt.Errorf("versitygw: %w", err)
	}
	return s, nil
}

// freePort asks the kernel for a free loopback port; versitygw cannot
// report the port of a ":0" listener.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// createBucket creates the bucket, retrying while the server is still
// coming up (connection refused) until startTimeout or the process exits.
func createBucket(c *s3.Client, bucket string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for {
		_, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
		if err == nil {
			return nil
		}
		if !strings.Contains(err.Error(), "connection refused") || time.Now().After(deadline) {
			return fmt.Errorf("create bucket %s: %w", bucket, err)
		}
		select {
		case <-exited:
			return fmt.Errorf("create bucket %s: server exited: %w", bucket, err)
		case <-time.After(50 * time.Millisecond): // polling a port, not synchronising goroutines
		}
	}
}

// procStatus reads one "kB" field (VmHWM, VmRSS) of /proc/PID/status, in
// bytes.
func procStatus(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse %s of pid %d: %w", field, pid, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// clockTick is the unit of utime/stime in /proc/PID/stat (USER_HZ, 100 on
// Linux on every architecture Go supports).
const clockTick = 10 * time.Millisecond

// cpuTime is the user+system CPU time the process has used so far.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	// Fields after the parenthesised command name, which may hold spaces.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 { // state is f[0]; utime is field 14 = f[11], stime f[12]
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}
