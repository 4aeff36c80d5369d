package bodytimeout_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/bodytimeout"
)

// d is the deadline under test: small, so the tests are fast; the client
// side allows far more before it calls the server stuck.
const (
	d           = 300 * time.Millisecond
	clientLimit = 10 * time.Second
)

// result is what the handler saw.
type result struct {
	n         int
	err       error
	cancelled bool // the request context ended while the handler waited after the body
}

// server runs a handler that installs the policy, reads the whole body and
// answers 408 on a timeout, 200 otherwise; after the body it waits (up to
// wait) to see whether its context is cancelled.
func server(t *testing.T, install func(http.ResponseWriter, *http.Request, time.Duration), wait time.Duration) (string, chan result) {
	t.Helper()
	results := make(chan result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		install(w, r, d)
		b, err := io.ReadAll(r.Body)
		res := result{n: len(b), err: err}
		if err != nil {
			w.WriteHeader(http.StatusRequestTimeout)
			results <- res
			return
		}
		if wait > 0 {
			select {
			case <-r.Context().Done():
				res.cancelled = true
			case <-time.After(wait): // a bound on a negative check, not a synchronisation
			}
		}
		w.WriteHeader(http.StatusOK)
		results <- res
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), results
}

// dial opens a raw TCP connection with a client-side deadline: the server
// must have answered and closed by then.
func dial(t *testing.T, addr string) net.Conn {
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

// readAnswer reads the status line and then everything until the server
// closes the connection; a client-side timeout fails the test.
func readAnswer(t *testing.T, c net.Conn) string {
	t.Helper()
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("no answer from the server: %v", err)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the server did not close the connection within %s", clientLimit)
		}
	}
	return strings.TrimSpace(line)
}

// TestTotalEndsATrickle: a client that keeps sending a byte now and then
// cannot stretch a Total body past its deadline.
func TestTotalEndsATrickle(t *testing.T) {
	addr, results := server(t, bodytimeout.Total, 0)
	c := dial(t, addr)
	start := time.Now()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		// The slow client: one byte every d/6, for ever (pacing, not
		// synchronisation).
		tk := time.NewTicker(d / 6)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	if got := readAnswer(t, c); got != "HTTP/1.1 408 Request Timeout" {
		t.Fatalf("answer %q", got)
	}
	res := <-results
	if !errors.Is(res.err, bodytimeout.ErrTimeout) || !errors.Is(res.err, os.ErrDeadlineExceeded) {
		t.Errorf("handler's read error %v does not match ErrTimeout", res.err)
	}
	if res.n == 0 {
		t.Error("the trickled bytes were not read at all")
	}
	if el := time.Since(start); el < d {
		t.Errorf("ended after %s, before the deadline %s", el, d)
	}
}

// TestStall: a Stall body that keeps arriving, however slowly, is read
// whole even when it takes several times d; one that stops ends.
func TestStall(t *testing.T) {
	addr, results := server(t, bodytimeout.Stall, 0)
	c := dial(t, addr)
	const n = 14 // at d/4 apart: 3.5·d in all
	fmt.Fprintf(c, "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", n)
	tk := time.NewTicker(d / 4) // pacing the slow client
	for range n {
		<-tk.C
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	tk.Stop()
	if got := readAnswer0(t, c); got != "HTTP/1.1 200 OK" {
		t.Fatalf("slow but steady body: %q", got)
	}
	if res := <-results; res.err != nil || res.n != n {
		t.Fatalf("slow but steady body: read %d bytes, %v", res.n, res.err)
	}

	c2 := dial(t, addr)
	start := time.Now()
	fmt.Fprintf(c2, "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nsome bytes")
	if got := readAnswer(t, c2); got != "HTTP/1.1 408 Request Timeout" {
		t.Fatalf("stalled body: %q", got)
	}
	if res := <-results; !errors.Is(res.err, bodytimeout.ErrTimeout) || res.n != len("some bytes") {
		t.Errorf("stalled body: read %d bytes, %v", res.n, res.err)
	}
	if el := time.Since(start); el < d*3/4 {
		t.Errorf("stall ended after %s, before 3/4 of %s", el, d)
	}
}

// readAnswer0 reads only the status line (the connection stays open).
func readAnswer0(t *testing.T, c net.Conn) string {
	t.Helper()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	return strings.TrimSpace(line)
}

// TestHandlerNotCutAfterBody: once the body has ended (or when there is
// none), the deadline is gone: a handler working for longer than d after
// the body keeps its context.
func TestHandlerNotCutAfterBody(t *testing.T) {
	for _, tt := range []struct {
		name    string
		install func(http.ResponseWriter, *http.Request, time.Duration)
		req     string
	}{
		{"total", bodytimeout.Total, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"},
		{"stall", bodytimeout.Stall, "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"},
		{"no body", bodytimeout.Stall, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr, results := server(t, tt.install, 3*d)
			c := dial(t, addr)
			fmt.Fprint(c, tt.req)
			if got := readAnswer0(t, c); got != "HTTP/1.1 200 OK" {
				t.Fatalf("answer %q", got)
			}
			if res := <-results; res.err != nil || res.cancelled {
				t.Errorf("handler after the body: err %v, context cancelled %v", res.err, res.cancelled)
			}
		})
	}
}
