// Package bodytimeout bounds how long a client may take to send a request
// body, so that a slow or stalled client cannot hold a connection and a
// server goroutine for ever. http.Server's ReadTimeout cannot do it for
// s3fed: it is one bound per listener on the whole request, which is wrong
// for multi-gigabyte S3 uploads and cannot treat the STS query API (small
// anonymous form posts on the S3 listener) differently from S3.
//
// Here the deadline is set on the connection (http.ResponseController) only
// while the body is being read, and lifted once the body has ended, so the
// handler's work after the body is never cut short. Two policies:
//
//   - Total: the whole body must arrive within d (small JSON and form bodies:
//     the JSON API, the exchange endpoints, the STS query API).
//   - Stall: the body may take as long as it needs, but no read may wait more
//     than d for bytes (S3 uploads).
//
// A read that hits the deadline returns an error that matches ErrTimeout
// (and the underlying os.ErrDeadlineExceeded), which handlers answer with
// 408 / S3's RequestTimeout.
package bodytimeout

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// ErrTimeout is matched (errors.Is) by the error a body read returns when
// the client did not send the body in time.
var ErrTimeout = errors.New("the request body did not arrive in time")

// timeoutError is a body read that hit its deadline.
type timeoutError struct {
	msg   string
	cause error
}

func (e *timeoutError) Error() string { return e.msg + ": " + e.cause.Error() }

func (e *timeoutError) Unwrap() []error { return []error{ErrTimeout, e.cause} }

// Total makes the rest of r's body due within d from now. It does nothing
// for a request without a body, or when the connection cannot take a
// deadline (a test recorder).
func Total(w http.ResponseWriter, r *http.Request, d time.Duration) {
	install(w, r, d, false)
}

// Stall lets r's body take as long as it needs, but makes any read that
// waits more than d for bytes fail. The deadline is moved forward as reads
// happen; to keep that cheap it is moved only once a quarter of d has
// passed, so a stall ends between 3/4·d and d after the last read began.
func Stall(w http.ResponseWriter, r *http.Request, d time.Duration) {
	install(w, r, d, true)
}

func install(w http.ResponseWriter, r *http.Request, d time.Duration, stall bool) {
	if d <= 0 || r.Body == nil || r.Body == http.NoBody {
		// No body: no deadline, so nothing can cut the handler short.
		return
	}
	rc := http.NewResponseController(w)
	now := time.Now()
	if err := rc.SetReadDeadline(now.Add(d)); err != nil {
		return
	}
	r.Body = &body{rc: rc, rd: r.Body, d: d, stall: stall, set: now}
}

// body is a request body under a deadline.
type body struct {
	rc    *http.ResponseController
	rd    io.ReadCloser
	d     time.Duration
	stall bool
	set   time.Time // when the deadline was last moved
	done  bool      // the body ended; the deadline is cleared
}

func (b *body) Read(p []byte) (int, error) {
	if b.stall && !b.done {
		if now := time.Now(); now.Sub(b.set) >= b.d/4 {
			_ = b.rc.SetReadDeadline(now.Add(b.d))
			b.set = now
		}
	}
	n, err := b.rd.Read(p)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		if !b.done {
			// The body is complete: lift the deadline, and never move it
			// again, so that nothing set here outlives the body (net/http
			// lifts it too when it starts watching for the next request).
			_ = b.rc.SetReadDeadline(time.Time{})
			b.done = true
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		what := fmt.Sprintf("the request body was not sent within %s", b.d)
		if b.stall {
			what = fmt.Sprintf("the request body stalled: no bytes for %s", b.d)
		}
		return n, &timeoutError{msg: what, cause: err}
	}
	return n, err
}

func (b *body) Close() error { return b.rd.Close() }
