// Package jsonapi holds what every JSON endpoint of s3fed shares: the error
// shape of API.md ({"code","message"}), strict request decoding with explicit
// size limits, request IDs and a method-aware router that answers unknown
// routes and wrong methods in that same JSON shape.
package jsonapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/s3fed/s3fed/internal/bodytimeout"
)

// Error is an API error: an HTTP status, a stable machine code from API.md's
// table and a human message that says what is wrong and how to fix it.
type Error struct {
	Status  int
	Code    string
	Message string
	// Details are extra fields of the error body, such as the full problem
	// list of a refused policy document.
	Details map[string]any
	// Err is the underlying cause. It is never sent to the client; for a
	// 5xx the middleware logs it with the request ID, so that an operator
	// can tell a refused database write from a bug. It must not hold a
	// secret, a token, a signature or a whole assertion.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

// Unwrap exposes the cause to errors.Is / errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Common errors.
func BadRequest(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, "invalid_argument", format, args...)
}

// NotFound hides whether a resource exists in another org: both answer the same.
func NotFound(what string) *Error {
	return Errorf(http.StatusNotFound, "not_found", "%s not found", what)
}

// WriteJSON writes v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// WriteError writes err as API.md's error body. An error that is not an
// *Error is a bug or a failing dependency: it is answered as a 500 without
// its text, which may hold internals, and the middleware logs it with the
// request ID (as it logs the cause of any other 5xx).
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *Error
	if !errors.As(err, &ae) {
		ae = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error; the request ID is in the server log"}
	}
	if ae.Status >= 500 && !NoteError(r.Context(), err) {
		// Outside the middleware: log here so the cause is not lost.
		slog.ErrorContext(r.Context(), "server error", "request_id", RequestID(r.Context()), "method", r.Method, "path", r.URL.Path,
			"status", ae.Status, "err", err)
	}
	body := map[string]any{}
	for k, v := range ae.Details {
		body[k] = v
	}
	body["code"], body["message"] = ae.Code, ae.Message
	WriteJSON(w, ae.Status, body)
}

// NoteError records err as the cause of the answer to the request ctx
// belongs to; the middleware's log line carries it when the answer is a
// 5xx. Handlers that write a 5xx themselves (not through WriteError) call
// it. It reports false when ctx is not a request under Middleware.
func NoteError(ctx context.Context, err error) bool {
	st, ok := ctx.Value(stateKey).(*requestState)
	if !ok {
		return false
	}
	st.mu.Lock()
	st.err = err
	st.mu.Unlock()
	return true
}

// requestState is what a request's handlers tell the middleware's log line.
type requestState struct {
	mu  sync.Mutex
	err error
}

func (st *requestState) cause() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.err
}

// Decode reads a JSON object from r's body into v strictly: the content type
// must be JSON, the body at most limit bytes (413 payload_too_large, refused
// before it is read whole when Content-Length says so) and UTF-8 (JSON's
// encoding; encoding/json would silently turn a stray byte into U+FFFD), no
// unknown fields, no trailing data. Syntax errors are invalid_json; a
// well-formed body with the wrong shape is invalid_argument naming the field.
func Decode(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if err := RequireContentType(r, "application/json"); err != nil {
		return err
	}
	if r.ContentLength > limit {
		return Errorf(http.StatusRequestEntityTooLarge, "payload_too_large", "request body is %d bytes; the limit is %d", r.ContentLength, limit)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return decodeError(err, limit)
	}
	if err := CheckUTF8(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, limit)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Errorf(http.StatusBadRequest, "invalid_json", "request body has data after the JSON object")
	}
	return nil
}

// CheckUTF8 answers invalid_json, naming the first bad byte, unless data is
// UTF-8. Every JSON body is checked before it is decoded (Decode does it;
// handlers reading a body themselves call this), so that no stored text
// differs from what the client sent.
func CheckUTF8(data []byte) error {
	if utf8.Valid(data) {
		return nil
	}
	i := 0
	for i < len(data) {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		i += n
	}
	return Errorf(http.StatusBadRequest, "invalid_json", "request body is not valid UTF-8 (byte %d); JSON text must be UTF-8", i)
}

func decodeError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, bodytimeout.ErrTimeout):
		return Errorf(http.StatusRequestTimeout, "request_timeout", "%v; send the whole request body at once", err)
	case errors.As(err, &mbe):
		return Errorf(http.StatusRequestEntityTooLarge, "payload_too_large", "request body is larger than the limit of %d bytes", limit)
	case errors.Is(err, io.EOF):
		return Errorf(http.StatusBadRequest, "invalid_json", "request body is empty; send a JSON object")
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return Errorf(http.StatusBadRequest, "invalid_json", "request body is not valid JSON: %v", err)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return Errorf(http.StatusBadRequest, "invalid_json", "request body must be a JSON object")
		}
		return Errorf(http.StatusBadRequest, "invalid_argument", "field %q must be of type %s, not %s", field, jsonType(te.Type.Kind().String()), te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return Errorf(http.StatusBadRequest, "invalid_argument", "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return Errorf(http.StatusBadRequest, "invalid_json", "request body is not valid JSON: %v", err)
	}
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct", "ptr":
		return "object"
	default:
		return "number"
	}
}

// RequireContentType answers 415 unless the request's media type is want.
func RequireContentType(r *http.Request, want string) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || !strings.EqualFold(mt, want) {
		return Errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be %s (got %q)", want, ct)
	}
	return nil
}

type ctxKey int

const (
	requestIDKey ctxKey = 1
	stateKey     ctxKey = 2
)

// RequestID returns the request ID the middleware put in ctx.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// WithRequestID returns ctx carrying id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// NewRequestID returns 16 random hex characters.
func NewRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// Middleware gives every request an ID (X-Request-Id in the answer and in
// the log line), recovers panics into a logged 500 and logs one line per
// request with slog: INFO normally, ERROR with the underlying error ("err")
// when the answer is a 5xx, so that no server error is logged without its
// cause.
func Middleware(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := NewRequestID()
		w.Header().Set("X-Request-Id", id)
		st := &requestState{}
		r = r.WithContext(context.WithValue(WithRequestID(r.Context(), id), stateKey, st))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic", "request_id", id, "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if !sw.wrote {
					WriteError(sw, r, fmt.Errorf("panic: %v", p))
				}
			}
			attrs := []any{"request_id", id, "method", r.Method, "path", r.URL.Path, "status", sw.status, "remote", r.RemoteAddr,
				"duration_ms", float64(time.Since(start).Microseconds()) / 1000}
			if sw.status < 500 {
				log.Info("request", attrs...)
				return
			}
			cause := st.cause()
			if cause == nil {
				cause = errors.New("no cause was recorded for this answer (a bug: the handler should return or note its error)")
			}
			log.Error("request", append(attrs, "err", cause.Error())...)
		}()
		next.ServeHTTP(sw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.wrote = true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// HandlerFunc is an endpoint that returns its error instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Router maps path patterns (http.ServeMux syntax, without methods) to
// per-method handlers, so that a known path with the wrong method is a JSON
// 405 method_not_allowed and an unknown path a JSON 404, never ServeMux's
// plain-text answers.
type Router struct {
	mux    *http.ServeMux
	routes map[string]map[string]HandlerFunc
}

// NewRouter returns an empty router.
func NewRouter() *Router {
	rt := &Router{mux: http.NewServeMux(), routes: map[string]map[string]HandlerFunc{}}
	rt.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, Errorf(http.StatusNotFound, "not_found", "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return rt
}

// Handle registers h for method on pattern.
func (rt *Router) Handle(method, pattern string, h HandlerFunc) {
	m, ok := rt.routes[pattern]
	if !ok {
		m = map[string]HandlerFunc{}
		rt.routes[pattern] = m
		rt.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			h, ok := m[r.Method]
			if !ok {
				allowed := make([]string, 0, len(m))
				for k := range m {
					allowed = append(allowed, k)
				}
				sort.Strings(allowed)
				w.Header().Set("Allow", strings.Join(allowed, ", "))
				WriteError(w, r, Errorf(http.StatusMethodNotAllowed, "method_not_allowed", "%s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allowed, " or ")))
				return
			}
			if err := h(w, r); err != nil {
				WriteError(w, r, err)
			}
		})
	}
	m[method] = h
}

// ServeHTTP dispatches to the registered handlers.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) { rt.mux.ServeHTTP(w, r) }
