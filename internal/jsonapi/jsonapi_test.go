package jsonapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/s3fed/s3fed/internal/jsonapi"
)

// target is a typical request body shape.
type target struct {
	Name   string            `json:"name"`
	Count  int               `json:"count"`
	Active *bool             `json:"active"`
	Tags   []string          `json:"tags"`
	Inner  struct{ N int }   `json:"inner"`
	Labels map[string]string `json:"labels"`
}

// decodeReq runs Decode on a request with body and content type, the body
// sent with Content-Length unless chunked.
func decodeReq(t *testing.T, body, contentType string, limit int64, chunked bool) (target, error) {
	t.Helper()
	var rd io.Reader = strings.NewReader(body)
	if chunked {
		rd = io.MultiReader(strings.NewReader(body)) // unknown length
	}
	r := httptest.NewRequest("POST", "/x", rd)
	if chunked {
		r.ContentLength = -1
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	var v target
	err := jsonapi.Decode(httptest.NewRecorder(), r, limit, &v)
	return v, err
}

func TestDecode(t *testing.T) {
	const limit = 64
	tests := []struct {
		name        string
		body        string
		contentType string
		chunked     bool
		status      int    // 0: success
		code        string // API.md error code
		msgHas      string
	}{
		{name: "ok", body: `{"name":"a","count":2}`, contentType: "application/json"},
		{name: "ok charset", body: `{"name":"a"}`, contentType: "application/json; charset=utf-8"},
		{name: "ok upper case media type", body: `{"name":"a"}`, contentType: "Application/JSON"},
		{name: "ok trailing whitespace", body: "{\"name\":\"a\"}\n\t \n", contentType: "application/json"},
		{name: "ok exactly at limit", body: `{"name":"` + strings.Repeat("a", limit-11) + `"}`, contentType: "application/json"},
		{name: "ok exactly at limit chunked", body: `{"name":"` + strings.Repeat("a", limit-11) + `"}`, contentType: "application/json", chunked: true},
		{name: "no content type", body: `{}`, status: 415, code: "unsupported_media_type", msgHas: "application/json"},
		{name: "text/plain", body: `{}`, contentType: "text/plain", status: 415, code: "unsupported_media_type"},
		{name: "json suffix is not json", body: `{}`, contentType: "application/problem+json", status: 415, code: "unsupported_media_type"},
		{name: "malformed content type", body: `{}`, contentType: "application/json; =", status: 415, code: "unsupported_media_type"},
		{name: "empty body", body: ``, contentType: "application/json", status: 400, code: "invalid_json", msgHas: "empty"},
		{name: "syntax error", body: `{"name":}`, contentType: "application/json", status: 400, code: "invalid_json"},
		{name: "truncated", body: `{"name":"a"`, contentType: "application/json", status: 400, code: "invalid_json"},
		{name: "not json", body: `hello`, contentType: "application/json", status: 400, code: "invalid_json"},
		{name: "array not object", body: `[1,2]`, contentType: "application/json", status: 400, code: "invalid_json", msgHas: "object"},
		{name: "string not object", body: `"x"`, contentType: "application/json", status: 400, code: "invalid_json", msgHas: "object"},
		{name: "trailing object", body: `{"name":"a"}{"name":"b"}`, contentType: "application/json", status: 400, code: "invalid_json", msgHas: "after"},
		{name: "trailing garbage", body: `{"name":"a"} x`, contentType: "application/json", status: 400, code: "invalid_json", msgHas: "after"},
		{name: "unknown field", body: `{"name":"a","bogus":1}`, contentType: "application/json", status: 400, code: "invalid_argument", msgHas: `"bogus"`},
		{name: "wrong type string", body: `{"name":5}`, contentType: "application/json", status: 400, code: "invalid_argument", msgHas: `"name"`},
		{name: "wrong type number", body: `{"count":"5"}`, contentType: "application/json", status: 400, code: "invalid_argument", msgHas: `"count" must be of type number`},
		{name: "wrong type bool", body: `{"active":"yes"}`, contentType: "application/json", status: 400, code: "invalid_argument", msgHas: `"active" must be of type boolean`},
		{name: "wrong type array", body: `{"tags":"a"}`, contentType: "application/json", status: 400, code: "invalid_argument", msgHas: `"tags" must be of type array`},
		{name: "wrong type nested", body: `{"inner":{"N":"x"}}`, contentType: "application/json", status: 400, code: "invalid_argument", msgHas: `inner.N`},
		{name: "wrong type map value", body: `{"labels":{"a":1}}`, contentType: "application/json", status: 400, code: "invalid_argument", msgHas: `labels`},
		{name: "fraction into int", body: `{"count":1.5}`, contentType: "application/json", status: 400, code: "invalid_argument", msgHas: `"count"`},
		{name: "over limit with length", body: `{"name":"` + strings.Repeat("a", limit) + `"}`, contentType: "application/json", status: 413, code: "payload_too_large", msgHas: "64"},
		{name: "over limit chunked", body: `{"name":"` + strings.Repeat("a", limit) + `"}`, contentType: "application/json", chunked: true, status: 413, code: "payload_too_large"},
		{name: "over limit by trailing space chunked", body: `{"name":"a"}` + strings.Repeat(" ", limit), contentType: "application/json", chunked: true, status: 413, code: "payload_too_large"},
		{name: "over limit one byte", body: `{"name":"` + strings.Repeat("a", limit-10) + `"}`, contentType: "application/json", status: 413, code: "payload_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := decodeReq(t, tt.body, tt.contentType, limit, tt.chunked)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if v.Name == "" {
					t.Errorf("decoded nothing: %+v", v)
				}
				return
			}
			var ae *jsonapi.Error
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v (%T), want *jsonapi.Error", err, err)
			}
			if ae.Status != tt.status || ae.Code != tt.code {
				t.Errorf("got %d %s (%s), want %d %s", ae.Status, ae.Code, ae.Message, tt.status, tt.code)
			}
			if !strings.Contains(ae.Message, tt.msgHas) {
				t.Errorf("message %q does not contain %q", ae.Message, tt.msgHas)
			}
		})
	}
}

// TestDecodeRefusesBeforeReading: a Content-Length over the limit is refused
// without reading the body at all.
func TestDecodeRefusesBeforeReading(t *testing.T) {
	rd := &countingReader{r: strings.NewReader(strings.Repeat(" ", 100))}
	r := httptest.NewRequest("POST", "/x", rd)
	r.ContentLength = 100
	r.Header.Set("Content-Type", "application/json")
	var v target
	err := jsonapi.Decode(httptest.NewRecorder(), r, 10, &v)
	var ae *jsonapi.Error
	if !errors.As(err, &ae) || ae.Status != 413 {
		t.Fatalf("err = %v, want 413", err)
	}
	if rd.n != 0 {
		t.Errorf("read %d bytes of a body already known to be too large", rd.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		msg    string
	}{
		{"api error", jsonapi.Errorf(409, "already_exists", "org %q exists", "a"), 409, "already_exists", `org "a" exists`},
		{"wrapped api error", wrap(jsonapi.BadRequest("field %q bad", "x")), 400, "invalid_argument", `field "x" bad`},
		{"not found", jsonapi.NotFound("org \"b\""), 404, "not_found", `org "b" not found`},
		{"internal error hides text", errors.New("secret db path /var/x"), 500, "internal", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
			t.Cleanup(func() { slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil))) })
			w := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/x", nil)
			r = r.WithContext(jsonapi.WithRequestID(r.Context(), "RID123"))
			jsonapi.WriteError(w, r, tt.err)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			body := errorBody(t, w.Body.Bytes())
			if body["code"] != tt.code {
				t.Errorf("code %q, want %q", body["code"], tt.code)
			}
			if tt.msg != "" && body["message"] != tt.msg {
				t.Errorf("message %q, want %q", body["message"], tt.msg)
			}
			if tt.status == 500 {
				if strings.Contains(w.Body.String(), "secret") {
					t.Errorf("500 answer leaks the internal error: %s", w.Body)
				}
				if !strings.Contains(logs.String(), "secret db path") || !strings.Contains(logs.String(), "RID123") {
					t.Errorf("internal error not logged with its request ID: %s", logs.String())
				}
			}
		})
	}
}

func wrap(err error) error { return &wrapped{err} }

type wrapped struct{ err error }

func (w *wrapped) Error() string { return "ctx: " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

// errorBody checks the body is exactly {"code","message"} with a non-empty
// message and returns it.
func errorBody(t *testing.T, b []byte) map[string]string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, b)
	}
	out := map[string]string{}
	for k, v := range m {
		s, ok := v.(string)
		if !ok || (k != "code" && k != "message") {
			t.Errorf("error body has unexpected member %q: %s", k, b)
		}
		out[k] = s
	}
	if out["code"] == "" || out["message"] == "" {
		t.Errorf("error body lacks code or message: %s", b)
	}
	return out
}

// lockedBuffer is a log sink safe for the server goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestRouter(t *testing.T) (*httptest.Server, *lockedBuffer) {
	t.Helper()
	rt := jsonapi.NewRouter()
	ok := func(w http.ResponseWriter, r *http.Request) error {
		jsonapi.WriteJSON(w, 200, map[string]string{"path": r.URL.Path, "org": r.PathValue("org"), "rid": jsonapi.RequestID(r.Context())})
		return nil
	}
	rt.Handle("GET", "/v1/things", ok)
	rt.Handle("POST", "/v1/things", ok)
	rt.Handle("GET", "/v1/orgs/{org}", ok)
	rt.Handle("DELETE", "/v1/orgs/{org}", ok)
	rt.Handle("PATCH", "/v1/orgs/{org}", ok)
	rt.Handle("GET", "/v1/fail", func(w http.ResponseWriter, r *http.Request) error {
		return jsonapi.Errorf(http.StatusConflict, "already_exists", "it exists")
	})
	rt.Handle("GET", "/v1/panic", func(w http.ResponseWriter, r *http.Request) error {
		panic("boom in handler")
	})
	rt.Handle("GET", "/v1/panic-after-write", func(w http.ResponseWriter, r *http.Request) error {
		jsonapi.WriteJSON(w, 200, map[string]string{"partial": "yes"})
		panic("boom after write")
	})
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	srv := httptest.NewServer(jsonapi.Middleware(log, rt))
	t.Cleanup(srv.Close)
	return srv, logs
}

func TestRouter(t *testing.T) {
	srv, _ := newTestRouter(t)
	tests := []struct {
		method, path string
		status       int
		code         string
		allow        string
		org          string
	}{
		{method: "GET", path: "/v1/things", status: 200},
		{method: "POST", path: "/v1/things", status: 200},
		{method: "GET", path: "/v1/orgs/acme", status: 200, org: "acme"},
		{method: "PATCH", path: "/v1/orgs/acme", status: 200, org: "acme"},
		{method: "PUT", path: "/v1/things", status: 405, code: "method_not_allowed", allow: "GET, POST"},
		{method: "DELETE", path: "/v1/things", status: 405, code: "method_not_allowed", allow: "GET, POST"},
		{method: "POST", path: "/v1/orgs/acme", status: 405, code: "method_not_allowed", allow: "DELETE, GET, PATCH"},
		{method: "GET", path: "/v1/nothing", status: 404, code: "not_found"},
		{method: "POST", path: "/v1/nothing", status: 404, code: "not_found"},
		{method: "GET", path: "/", status: 404, code: "not_found"},
		{method: "GET", path: "/v1/orgs/acme/extra", status: 404, code: "not_found"},
		{method: "GET", path: "/v1/fail", status: 409, code: "already_exists"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			if tt.code != "" {
				body := errorBody(t, b)
				if body["code"] != tt.code {
					t.Errorf("code %q, want %q", body["code"], tt.code)
				}
				if tt.status == 405 && !strings.Contains(body["message"], tt.method) {
					t.Errorf("405 message %q does not name the method", body["message"])
				}
				return
			}
			var m map[string]string
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if m["org"] != tt.org {
				t.Errorf("path value org %q, want %q", m["org"], tt.org)
			}
		})
	}
}

var ridRe = regexp.MustCompile(`^[0-9A-F]{16}$`)

func TestMiddlewareRequestID(t *testing.T) {
	srv, logs := newTestRouter(t)
	seen := map[string]bool{}
	for _, path := range []string{"/v1/things", "/v1/things", "/v1/nothing", "/v1/fail"} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("X-Request-Id")
		if !ridRe.MatchString(id) {
			t.Fatalf("%s: X-Request-Id %q is not 16 hex characters", path, id)
		}
		if seen[id] {
			t.Errorf("request ID %s reused", id)
		}
		seen[id] = true
		if path == "/v1/things" {
			var m map[string]string
			_ = json.Unmarshal(b, &m)
			if m["rid"] != id {
				t.Errorf("handler saw request ID %q, header says %q", m["rid"], id)
			}
		}
		if !strings.Contains(logs.String(), `"request_id":"`+id+`"`) {
			t.Errorf("request %s not logged with its ID:\n%s", id, logs.String())
		}
	}
	// The log line carries the final status.
	if !strings.Contains(logs.String(), `"status":409`) || !strings.Contains(logs.String(), `"status":404`) {
		t.Errorf("log lines lack statuses:\n%s", logs.String())
	}
}

func TestMiddlewarePanic(t *testing.T) {
	srv, logs := newTestRouter(t)
	resp, err := srv.Client().Get(srv.URL + "/v1/panic")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("status %d, want 500: %s", resp.StatusCode, b)
	}
	body := errorBody(t, b)
	if body["code"] != "internal" {
		t.Errorf("code %q, want internal", body["code"])
	}
	if strings.Contains(string(b), "boom") {
		t.Errorf("panic value leaked to the client: %s", b)
	}
	id := resp.Header.Get("X-Request-Id")
	l := logs.String()
	if !strings.Contains(l, "boom in handler") || !strings.Contains(l, `"msg":"panic"`) || !strings.Contains(l, id) {
		t.Errorf("panic not logged with its request ID %s:\n%s", id, l)
	}

	// A panic after the answer started leaves that answer alone.
	resp, err = srv.Client().Get(srv.URL + "/v1/panic-after-write")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Contains(string(b), "internal") {
		t.Errorf("panic after write: %d %s", resp.StatusCode, b)
	}
	if !strings.Contains(logs.String(), "boom after write") {
		t.Errorf("late panic not logged")
	}

	// The server survives.
	resp, err = srv.Client().Get(srv.URL + "/v1/things")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("after panics: status %d", resp.StatusCode)
	}
}

func TestWriteJSON(t *testing.T) {
	w := httptest.NewRecorder()
	jsonapi.WriteJSON(w, 201, map[string]int{"a": 1})
	if w.Code != 201 || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("got %d %v", w.Code, w.Header())
	}
	var m map[string]int
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || m["a"] != 1 {
		t.Errorf("body %s: %v", w.Body, err)
	}
}

func TestRequestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := jsonapi.NewRequestID()
		if !ridRe.MatchString(id) || seen[id] {
			t.Fatalf("bad or repeated request ID %q", id)
		}
		seen[id] = true
	}
}

// TestDecodeRefusesInvalidUTF8: a body that is not UTF-8 is invalid_json
// naming the first bad byte, wherever the byte is; encoding/json alone would
// turn it into U+FFFD and the server would store something the client never
// sent (or, on PostgreSQL, fail the write). Escapes such as \u0000 are valid
// JSON text and pass.
func TestDecodeRefusesInvalidUTF8(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		at         int
	}{
		{"0xFF in a value", "{\"name\":\"a\xffb\"}", 10},
		{"0xFF in a key", "{\"na\xffme\":\"a\"}", 4},
		{"in an unknown field", "{\"name\":\"a\",\"x\xfe\":1}", 14},
		{"truncated sequence", "{\"name\":\"\xc3\"}", 9},
		{"UTF-16 surrogate", "{\"name\":\"\xed\xa0\x80\"}", 9},
		{"overlong NUL", "{\"name\":\"\xc0\x80\"}", 9},
		{"in a nested map", "{\"labels\":{\"k\":\"\xff\"}}", 16},
		{"in whitespace", "{\"name\":\"a\"\xff}", 11},
	} {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprint(tc.name, " chunked=", chunked), func(t *testing.T) {
				_, err := decodeReq(t, tc.body, "application/json", 1024, chunked)
				var ae *jsonapi.Error
				if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != "invalid_json" {
					t.Fatalf("err = %v, want 400 invalid_json", err)
				}
				if want := fmt.Sprintf("not valid UTF-8 (byte %d)", tc.at); !strings.Contains(ae.Message, want) {
					t.Errorf("message %q does not say %q", ae.Message, want)
				}
			})
		}
	}
	v, err := decodeReq(t, `{"name":"\u0000 é 😀 `+"\u202e"+`","labels":{"\u0001":"\u0000"}}`, "application/json", 1024, true)
	if err != nil || v.Name != "\x00 é 😀 \u202e" || v.Labels["\x01"] != "\x00" {
		t.Fatalf("valid text with escaped control characters: %+v %v", v, err)
	}
}
