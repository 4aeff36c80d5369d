package s3

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzServeHTTP sends arbitrary methods, targets, headers and bodies through
// the front door and requires an S3 answer that is never a 5xx other than
// 501 NotImplemented: a malformed request is the client's fault.
func FuzzServeHTTP(f *testing.F) {
	for _, s := range []struct{ m, target, hk, hv, body string }{
		{"GET", "/bkt/k?versionId=null", "Range", "bytes=-0", ""},
		{"PUT", "/bkt/k", "x-amz-copy-source", "%zz", ""},
		{"PUT", "/bkt/k?partNumber=99999&uploadId=x", "x-amz-copy-source", "/bkt/k", ""},
		{"POST", "/bkt?delete", "Content-MD5", "x", "<Delete><Object><Key>&amp;</Key></Object></Delete>"},
		{"POST", "/bkt/k?uploadId=x", "", "", "<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber></Part></CompleteMultipartUpload>"},
		{"PUT", "/bkt?policy", "", "", "{\"a\":"},
		{"GET", "/bkt?list-type=2&continuation-token=%00&max-keys=99999999999999999999", "", "", ""},
		{"GET", "/bkt?uploads&key-marker=z&upload-id-marker=&max-uploads=-1", "", "", ""},
		{"PUT", "/bkt", "", "", "<CreateBucketConfiguration><LocationConstraint>x"},
		{"HEAD", "/bkt/k", "If-Modified-Since", "not a date", ""},
		{"GET", "/bkt/k?response-content-type=%0d%0aX:1", "", "", ""},
		{"PUT", "/bkt/k", "x-amz-meta-", "v", "data"},
		{"DELETE", "/bkt/k?uploadId=", "", "", ""},
		{"GET", "/bkt/k?uploadId=x&max-parts=a", "", "", ""},
		{"PUT", "/bkt/k?uploadId=x&partNumber=1", "x-amz-copy-source-range", "bytes=9-1", ""},
	} {
		f.Add(s.m, s.target, s.hk, s.hv, []byte(s.body))
	}
	e := newEnv(&testing.T{})
	e.srv.accessLog = nil
	seed := func() {
		r := httptest.NewRequest("PUT", "/bkt", nil)
		r.Header.Set("Authorization", "TEST AKALICE")
		e.srv.ServeHTTP(httptest.NewRecorder(), r)
		r = httptest.NewRequest("PUT", "/bkt/k", bytes.NewReader([]byte("0123456789")))
		r.Header.Set("Authorization", "TEST AKALICE")
		e.srv.ServeHTTP(httptest.NewRecorder(), r)
	}
	seed()
	f.Fuzz(func(t *testing.T, method, target, hk, hv string, body []byte) {
		u, err := url.ParseRequestURI(target)
		if err != nil || len(method) == 0 || len(method) > 16 {
			return
		}
		r := &http.Request{Method: method, URL: u, Header: http.Header{}, Host: "127.0.0.1:9000",
			Body: http.NoBody, RemoteAddr: "192.0.2.1:1234", RequestURI: target}
		if len(body) > 0 {
			r.Body = nopCloser{bytes.NewReader(body)}
			r.ContentLength = int64(len(body))
		}
		r = r.WithContext(t.Context())
		r.Header.Set("Authorization", "TEST AKALICE")
		if hk != "" {
			r.Header.Set(hk, hv)
		}
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, r)
		if w.Code >= 500 && w.Code != http.StatusNotImplemented {
			t.Fatalf("%s %s [%s: %s] body %q: %d %s", method, target, hk, hv, body, w.Code, w.Body)
		}
	})
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
