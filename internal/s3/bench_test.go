package s3

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmarks
// measure the front door (routing, authz, headers, XML) and not a recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkFrontDoorGet4K measures the front door's own cost of a 4 KiB GET
// (test authenticator, in-memory backend).
func BenchmarkFrontDoorGet4K(b *testing.B) {
	e := newEnv(&testing.T{})
	e.srv.accessLog = nil
	body := bytes.Repeat([]byte("x"), 4096)
	_ = e.be.CreateBucket(b.Context(), "bkt")
	_ = e.bk.Create(b.Context(), BucketRecord{Name: "bkt", OrgID: "org1"})
	w := httptest.NewRecorder()
	r := httptest.NewRequest("PUT", "/bkt/obj", bytes.NewReader(body))
	r.Header.Set("Authorization", "TEST AKALICE")
	e.srv.ServeHTTP(w, r)
	if w.Code != 200 {
		b.Fatal(w.Body.String())
	}
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", "/bkt/obj", nil)
		r.Header.Set("Authorization", "TEST AKALICE")
		e.srv.ServeHTTP(&discardWriter{h: http.Header{}}, r)
	}
}

// BenchmarkFrontDoorPut4K is the same for a 4 KiB PUT.
func BenchmarkFrontDoorPut4K(b *testing.B) {
	e := newEnv(&testing.T{})
	e.srv.accessLog = nil
	body := bytes.Repeat([]byte("x"), 4096)
	_ = e.be.CreateBucket(b.Context(), "bkt")
	_ = e.bk.Create(b.Context(), BucketRecord{Name: "bkt", OrgID: "org1"})
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("PUT", "/bkt/obj", bytes.NewReader(body))
		r.Header.Set("Authorization", "TEST AKALICE")
		dw := &discardWriter{h: http.Header{}}
		e.srv.ServeHTTP(dw, r)
	}
}
