package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3fed/s3fed/internal/store/teststore"
)

// buildBinary builds cmd/s3fed once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "s3fed-e2e-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "s3fed")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/s3fed").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

var listening = regexp.MustCompile(`^s3fed: API on (\S+), S3 on (\S+), data in`)

// proc is a running `s3fed serve` child process.
type proc struct {
	cmd     *exec.Cmd
	api, s3 string
}

// serve starts the binary on free ports over dataDir (and databaseURL, when
// set) and waits for its listening line.
func serve(t *testing.T, dataDir, databaseURL string) *proc {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--data-dir", dataDir, "--api-addr", "127.0.0.1:0", "--s3-addr", "127.0.0.1:0", "--log-level", "warn")
	cmd.Env = append(os.Environ(), "S3FED_ROOT_TOKEN="+rootToken, "S3FED_DATABASE_URL="+databaseURL)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				lines <- sc.Text()
			}
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("server exited before listening")
		}
		m := listening.FindStringSubmatch(l)
		return &proc{cmd: cmd, api: m[1], s3: m[2]}
	case <-time.After(60 * time.Second):
		t.Fatal("server did not start within 60s")
	}
	return nil
}

// payload is the deterministic content of a key, so any visible object can
// be checked for completeness without knowing whether its PUT was acked.
func payload(key string) []byte {
	r := rand.New(rand.NewPCG(uint64(len(key)), uint64(crc(key))))
	b := make([]byte, 64<<10+r.IntN(448<<10))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func crc(s string) uint32 {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// TestCrashDuringPuts kills the server with SIGKILL during concurrent PUTs,
// restarts it on the same data dir, and checks that every acknowledged
// object is intact and no partial object is visible.
func TestCrashDuringPuts(t *testing.T) { teststore.Each(t, testCrashDuringPuts) }

func testCrashDuringPuts(t *testing.T, b teststore.Backend) {
	t.Setenv("AWS_CA_BUNDLE", "")
	dataDir, dbURL := t.TempDir(), b.DatabaseURL(t)
	p := serve(t, dataDir, dbURL)
	in := &instance{t: t, api: p.api, s3: p.s3, token: rootToken, client: httpClient()}
	in.kp, in.cert = testIdP(t)
	all := `{"version":"v1alpha1","name":"all","statements":[{"name":"all","effect":"Allow","actions":["*"],"resources":["*"],"principals":["*"]}]}`
	cfg := in.org("acme", all)
	ak, sk := in.keys("acme", cfg, "crash@acme.test", "writer")
	ctx := context.Background()
	c := in.s3Client(ak, sk)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("crash")}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	acked := map[string]bool{}
	killAfter := 40
	killed := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-killed:
					return
				default:
				}
				key := fmt.Sprintf("w%d/obj-%04d", w, i)
				_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("crash"), Key: aws.String(key), Body: bytes.NewReader(payload(key))})
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked[key] = true
				n := len(acked)
				mu.Unlock()
				if n >= killAfter {
					once.Do(func() {
						_ = p.cmd.Process.Signal(syscall.SIGKILL)
						close(killed)
					})
				}
			}
		}()
	}
	wg.Wait()
	_ = p.cmd.Wait()

	// Restart on the same data dir; the key and its claims survive too.
	p2 := serve(t, dataDir, dbURL)
	in2 := &instance{t: t, api: p2.api, s3: p2.s3, token: rootToken, client: httpClient()}
	c2 := in2.s3Client(ak, sk)
	seen := map[string]bool{}
	pg := s3.NewListObjectsV2Paginator(c2, &s3.ListObjectsV2Input{Bucket: aws.String("crash")})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatalf("list after restart: %v", err)
		}
		for _, o := range page.Contents {
			seen[aws.ToString(o.Key)] = true
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < killAfter {
		t.Fatalf("only %d PUTs acknowledged before the kill", len(acked))
	}
	for k := range acked {
		if !seen[k] {
			t.Errorf("acknowledged object %s lost", k)
		}
	}
	for k := range seen {
		out, err := c2.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("crash"), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("get %s: %v", k, err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || !bytes.Equal(got, payload(k)) {
			t.Errorf("object %s is torn: %d bytes, want %d", k, len(got), len(payload(k)))
		}
	}
	t.Logf("%d acknowledged, %d visible after SIGKILL and restart", len(acked), len(seen))
}
