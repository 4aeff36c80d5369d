package s3

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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

// benchSDK measures 4 KiB GET or PUT through the whole stack (aws-sdk-go-v2
// client, loopback HTTP, SigV4 verification, authz, fs store with fsync) at
// the given concurrency.
func benchSDK(b *testing.B, get bool, conc int) {
	e := newLiveEnv(b, false, "")
	e.srv.accessLog = nil
	c := e.sdk(b, "AKIAALICE0000000", "")
	ctx := b.Context()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 4096)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("obj"), Body: bytes.NewReader(data)}); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(conc) // goroutines = conc × GOMAXPROCS
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if get {
				out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String("obj")})
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, out.Body)
				out.Body.Close()
			} else if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("obj"), Body: bytes.NewReader(data)}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkSDKGet4K(b *testing.B)   { benchSDK(b, true, 1) }
func BenchmarkSDKPut4K(b *testing.B)   { benchSDK(b, false, 1) }
func BenchmarkSDKGet4KC8(b *testing.B) { benchSDK(b, true, 4) } // 4 × GOMAXPROCS(2) = 8 goroutines
func BenchmarkSDKPut4KC8(b *testing.B) { benchSDK(b, false, 4) }
