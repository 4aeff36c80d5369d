package jsonapi_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/s3fed/s3fed/internal/jsonapi"
)

// logLine finds the request log line of request id in JSON logs.
func logLine(t *testing.T, logs, id string) map[string]any {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["request_id"] == id && m["msg"] == "request" {
			return m
		}
	}
	t.Fatalf("no request line for %s in:\n%s", id, logs)
	return nil
}

// TestServerErrorsLogTheirCause: every 5xx answer's log line carries the
// underlying error with the request ID, at ERROR level, on the middleware's
// logger; the client sees none of it. A 4xx line carries no error.
func TestServerErrorsLogTheirCause(t *testing.T) {
	cause := errors.New(`pq: invalid byte sequence for encoding "UTF8": 0x00`)
	rt := jsonapi.NewRouter()
	rt.Handle("GET", "/unavailable", func(w http.ResponseWriter, r *http.Request) error {
		return &jsonapi.Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "retry shortly", Err: cause}
	})
	rt.Handle("GET", "/wrapped-unavailable", func(w http.ResponseWriter, r *http.Request) error {
		return wrap(&jsonapi.Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "retry shortly", Err: cause})
	})
	rt.Handle("GET", "/internal", func(w http.ResponseWriter, r *http.Request) error {
		return wrap(cause)
	})
	rt.Handle("GET", "/written", func(w http.ResponseWriter, r *http.Request) error {
		jsonapi.NoteError(r.Context(), cause)
		jsonapi.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return nil
	})
	rt.Handle("GET", "/bad", func(w http.ResponseWriter, r *http.Request) error {
		return &jsonapi.Error{Status: http.StatusBadRequest, Code: "invalid_argument", Message: "no", Err: cause}
	})
	logs := &lockedBuffer{}
	// The process default logger must not be where the cause goes.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(jsonapi.Middleware(slog.New(slog.NewJSONHandler(logs, nil)), rt))
	defer srv.Close()

	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/unavailable", 503}, {"/wrapped-unavailable", 503}, {"/internal", 500}, {"/written", 503}, {"/bad", 400},
	} {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := srv.Client().Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if strings.Contains(string(b), "0x00") {
				t.Errorf("the cause reached the client: %s", b)
			}
			line := logLine(t, logs.String(), resp.Header.Get("X-Request-Id"))
			if tt.status < 500 {
				if line["level"] != "INFO" || line["err"] != nil {
					t.Errorf("4xx line: %v", line)
				}
				return
			}
			if line["level"] != "ERROR" || line["status"] != float64(tt.status) {
				t.Errorf("5xx line level/status: %v", line)
			}
			if e, _ := line["err"].(string); !strings.Contains(e, "invalid byte sequence") {
				t.Errorf("5xx line lacks the cause: %v", line)
			}
			if strings.Count(logs.String(), resp.Header.Get("X-Request-Id")) != 1 {
				t.Errorf("a 5xx should be one log line, not several:\n%s", logs)
			}
		})
	}
}
