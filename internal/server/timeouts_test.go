package server_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3fed/s3fed/internal/identity"
	"github.com/s3fed/s3fed/internal/server"
	"github.com/s3fed/s3fed/internal/store"
)

// The timeouts under test are small so the tests are fast; the slow client
// allows far more before it calls the server stuck (the defaults are
// seconds to minutes, so a server that ignored the settings would fail).
const (
	tick        = 300 * time.Millisecond
	clientLimit = 8 * time.Second
)

func startWithTimeouts(t *testing.T) (*running, string) {
	t.Helper()
	t.Setenv("AWS_CA_BUNDLE", "")
	cfg, out, _ := testConfig(t, t.TempDir())
	cfg.Timeouts = server.Timeouts{ReadHeader: tick, Idle: tick, APIBody: tick, S3BodyStall: tick}
	r := start(t, cfg)
	return r, out.rootToken()
}

// slowConn is a raw client connection with a client-side deadline.
func slowConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(clientLimit)); err != nil {
		t.Fatal(err)
	}
	return c
}

// trickle writes one byte every tick/6 until stop is closed or the
// connection fails: a client that is never quite silent.
func trickle(c net.Conn, b byte) (stop func()) {
	done := make(chan struct{})
	go func() {
		tk := time.NewTicker(tick / 6) // pacing the slow client, not synchronisation
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

// expectClosed reads until the server closes the connection and fails the
// test if the client-side deadline comes first.
func expectClosed(t *testing.T, br *bufio.Reader, what string) {
	t.Helper()
	_, err := io.Copy(io.Discard, br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the server did not close the connection within %s", what, clientLimit)
	}
}

// expectAnswer reads one response and its body, then expects the server to
// close the connection.
func expectAnswer(t *testing.T, c net.Conn, what string, status int, bodyHas string) {
	t.Helper()
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: no answer: %v", what, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status || !strings.Contains(string(b), bodyHas) {
		t.Errorf("%s: %d %s, want %d with %q", what, resp.StatusCode, b, status, bodyHas)
	}
	expectClosed(t, br, what)
}

// TestHeaderAndIdleTimeouts: on both listeners, a client that sends part of
// its headers and stops, or that keeps an idle connection after an answer,
// is disconnected within the configured bounds.
func TestHeaderAndIdleTimeouts(t *testing.T) {
	r, _ := startWithTimeouts(t)
	for name, addr := range map[string]string{"API": r.srv.APIAddr(), "S3": r.srv.S3Addr()} {
		t.Run(name+" header", func(t *testing.T) {
			c := slowConn(t, addr)
			start := time.Now()
			fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Partial: ")
			expectClosed(t, bufio.NewReader(c), "half-sent headers")
			if el := time.Since(start); el < tick {
				t.Errorf("closed after %s, before the header timeout %s", el, tick)
			}
		})
		t.Run(name+" silent", func(t *testing.T) {
			c := slowConn(t, addr)
			expectClosed(t, bufio.NewReader(c), "a connection that sends nothing")
		})
		t.Run(name+" idle", func(t *testing.T) {
			c := slowConn(t, addr)
			fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			start := time.Now()
			expectClosed(t, br, "idle keep-alive connection")
			if el := time.Since(start); el < tick/2 {
				t.Errorf("idle connection closed after %s, well before the idle timeout %s", el, tick)
			}
		})
	}
}

// TestSlowBodiesOnExchangeAndAPI: a body that trickles in byte by byte
// cannot hold the anonymous exchange endpoints (JSON and the STS query API
// on the S3 listener) or the admin API: it ends with 408 and a closed
// connection once the body timeout has passed, and the refused exchange is
// audited.
func TestSlowBodiesOnExchangeAndAPI(t *testing.T) {
	r, tok := startWithTimeouts(t)
	for _, tt := range []struct {
		name, addr, head, bodyHas string
		status                    int
	}{
		{"exchange", r.srv.APIAddr(), "POST /v1/cwobject/temporary-credentials/saml HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n",
			`"request_timeout"`, 408},
		{"admin", r.srv.APIAddr(), "POST /v1/admin/orgs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer " + tok + "\r\n",
			`"request_timeout"`, 408},
		{"sts query", r.srv.S3Addr(), "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n",
			"RequestTimeout", 408},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := slowConn(t, tt.addr)
			start := time.Now()
			fmt.Fprint(c, tt.head+"Content-Length: 100000\r\n\r\n")
			b := byte(' ')
			if tt.name == "sts query" {
				b = 'a'
			}
			defer trickle(c, b)()
			expectAnswer(t, c, tt.name, tt.status, tt.bodyHas)
			if el := time.Since(start); el < tick {
				t.Errorf("answered after %s, before the body timeout %s", el, tick)
			}
		})
	}
	// Exchanges refused before an org is known are events of no org.
	evs, err := r.srv.Store.ListEvents(t.Context(), store.EventFilter{OrgID: "", Limit: 50})
	found := false
	for _, ev := range evs {
		if ev.Kind == "exchange" && ev.Code == "request_timeout" {
			found = true
		}
	}
	if err != nil || !found {
		t.Errorf("the timed-out exchange is not audited: %v %+v", err, evs)
	}
}

// TestS3BodyStall: an S3 upload may be slow for as long as bytes keep
// coming (here several times the stall timeout), but one that stops is
// ended with S3's RequestTimeout and a closed connection.
func TestS3BodyStall(t *testing.T) {
	r, tok := startWithTimeouts(t)
	api := "http://" + r.srv.APIAddr()
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/admin/orgs", `{"id":"acme"}`},
		{"PUT", "/v1/admin/orgs/acme/access-policies/all", `{"version":"v1alpha1","name":"all","statements":[{"name":"all","effect":"Allow","actions":["*"],"resources":["*"],"principals":["role/r"]}]}`},
	} {
		req, _ := http.NewRequest(c.method, api+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %v %v", c.method, c.path, resp, err)
		}
		resp.Body.Close()
	}
	rec, cred, err := r.srv.Keys.Mint(identity.Identity{OrgID: "acme", ConfigID: "c", PrincipalName: "saml/alice", Role: "r"}, nil, time.Hour, time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.srv.Store.Update(t.Context(), func(tx store.Tx) error { return tx.CreateAccessKey(t.Context(), rec) }); err != nil {
		t.Fatal(err)
	}
	sc := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + r.srv.S3Addr()), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(cred.Key.ID, cred.Secret, ""), RetryMaxAttempts: 1})
	if _, err := sc.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("slow")}); err != nil {
		t.Fatal(err)
	}
	presign := func(key string) string {
		req, err := s3.NewPresignClient(sc).PresignPutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("slow"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(req.URL)
		return u.RequestURI()
	}

	t.Run("slow but steady", func(t *testing.T) {
		c := slowConn(t, r.srv.S3Addr())
		const n = 16 // at tick/4 apart: 4 stall timeouts in all
		fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", presign("steady"), r.srv.S3Addr(), n)
		tk := time.NewTicker(tick / 4) // pacing the slow client
		for range n {
			<-tk.C
			if _, err := c.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		tk.Stop()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("slow upload: %d %s", resp.StatusCode, b)
		}
		out, err := sc.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("slow"), Key: aws.String("steady")})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(got) != strings.Repeat("x", n) {
			t.Errorf("stored %q", got)
		}
	})
	t.Run("stalled", func(t *testing.T) {
		c := slowConn(t, r.srv.S3Addr())
		start := time.Now()
		fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000000\r\n\r\nthe first bytes, then nothing", presign("stalled"), r.srv.S3Addr())
		expectAnswer(t, c, "stalled upload", 400, "<Code>RequestTimeout</Code>")
		if el := time.Since(start); el < tick*3/4 {
			t.Errorf("ended after %s, before the stall timeout %s", el, tick)
		}
		if _, err := sc.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("slow"), Key: aws.String("stalled")}); err == nil {
			t.Error("the stalled upload left an object")
		}
	})
}

// TestTimeoutsValidated: every timeout must be positive; the defaults are
// the documented ones.
func TestTimeoutsValidated(t *testing.T) {
	d := server.Defaults().Timeouts
	if d.ReadHeader != 10*time.Second || d.Idle != 2*time.Minute || d.APIBody != 30*time.Second || d.S3BodyStall != 60*time.Second {
		t.Errorf("default timeouts differ from docs/operations.md: %+v", d)
	}
	for flag, mod := range map[string]func(*server.Timeouts){
		"--header-timeout":   func(x *server.Timeouts) { x.ReadHeader = 0 },
		"--idle-timeout":     func(x *server.Timeouts) { x.Idle = -time.Second },
		"--api-body-timeout": func(x *server.Timeouts) { x.APIBody = 0 },
		"--s3-stall-timeout": func(x *server.Timeouts) { x.S3BodyStall = 0 },
	} {
		c := server.Defaults()
		mod(&c.Timeouts)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("%s not positive: %v", flag, err)
		}
	}
}
