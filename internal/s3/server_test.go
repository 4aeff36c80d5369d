package s3

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/identity"
	"github.com/s3fed/s3fed/internal/storage"
	"github.com/s3fed/s3fed/internal/storage/fs"
)

var (
	alice = identity.Identity{OrgID: "org1", PrincipalName: "saml/alice@example.com", Role: "admin", Provider: identity.ProviderSAML, Subject: "alice@example.com"}
	bob   = identity.Identity{OrgID: "org2", PrincipalName: "oidc/bob", Role: "writer", Provider: identity.ProviderOIDC, Subject: "bob"}
)

type env struct {
	srv   *Server
	be    storage.Backend
	bk    *memBuckets
	authz *testAuthz
	log   *memLog
}

func newEnv(t *testing.T, mut ...func(*Config)) *env {
	t.Helper()
	e := &env{be: newMemBackend(), bk: newMemBuckets(), authz: &testAuthz{deny: map[string]bool{}, grant: map[string]string{}}, log: &memLog{}}
	cfg := Config{
		Authenticator: &fakeAuth{keys: map[string]identity.Identity{"AKALICE": alice, "AKBOB": bob}},
		Authorizer:    e.authz, Buckets: e.bk, Backend: e.be, AccessLog: e.log,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, m := range mut {
		m(&cfg)
	}
	if cfg.Backend != e.be {
		e.be = cfg.Backend
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = s
	return e
}

type resp struct {
	code int
	h    http.Header
	body []byte
}

// errCode extracts the S3 error code of an XML error answer.
func (r resp) errCode() string {
	var eb errorBody
	if err := xml.Unmarshal(r.body, &eb); err != nil {
		return ""
	}
	return eb.Code
}

// do sends target (request-URI, escaped as the client would) as key.
func (e *env) do(t *testing.T, key, method, target string, body []byte, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	if body == nil {
		r.ContentLength = 0
	}
	if key != "" {
		r.Header.Set("Authorization", "TEST "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			r.Host = hdr[i+1]
			continue
		}
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	if len(w.Header()["x-amz-request-id"]) != 1 || w.Header()["x-amz-request-id"][0] == "" {
		t.Errorf("%s %s: no x-amz-request-id", method, target)
	}
	if w.Code >= 500 && w.Code != http.StatusNotImplemented {
		t.Errorf("%s %s: server error %d: %s", method, target, w.Code, w.Body.String())
	}
	return resp{code: w.Code, h: wireHeaders(t, method+" "+target, w.Header()), body: w.Body.Bytes()}
}

// wireHeaders checks that every x-amz-* response header is keyed as AWS
// spells it (lowercase, as it goes on the wire: boto3 shows user metadata
// names exactly as received) and returns the header canonicalised, so the
// tests read it with Get as any Go client would.
func wireHeaders(t *testing.T, what string, h http.Header) http.Header {
	t.Helper()
	out := http.Header{}
	for k, vs := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") && k != lk {
			t.Errorf("%s: response header %q is not spelled as AWS does (%q)", what, k, lk)
		}
		ck := http.CanonicalHeaderKey(k)
		out[ck] = append(out[ck], vs...)
	}
	return out
}

func (e *env) mustDo(t *testing.T, want int, key, method, target string, body []byte, hdr ...string) resp {
	t.Helper()
	r := e.do(t, key, method, target, body, hdr...)
	if r.code != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, target, r.code, want, r.body)
	}
	return r
}

// bothBackends runs a test against the in-memory backend and the real fs
// store, so front-door behaviour does not depend on either's leniency.
func bothBackends(t *testing.T, test func(t *testing.T, opt func(*Config))) {
	t.Run("mem", func(t *testing.T) { test(t, func(*Config) {}) })
	t.Run("fs", func(t *testing.T) {
		store, err := fs.Open(t.TempDir(), fs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close() })
		test(t, func(c *Config) { c.Backend = store })
	})
}

func TestNewRequiresDependencies(t *testing.T) {
	full := Config{Authenticator: &fakeAuth{}, Authorizer: &testAuthz{}, Buckets: newMemBuckets(), Backend: newMemBackend()}
	for name, mut := range map[string]func(*Config){
		"authenticator": func(c *Config) { c.Authenticator = nil },
		"authorizer":    func(c *Config) { c.Authorizer = nil },
		"buckets":       func(c *Config) { c.Buckets = nil },
		"backend":       func(c *Config) { c.Backend = nil },
	} {
		c := full
		mut(&c)
		if _, err := New(c); err == nil {
			t.Errorf("New without %s succeeded", name)
		}
	}
	if _, err := New(full); err != nil {
		t.Fatal(err)
	}
}

func TestRoute(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Domain = "s3.example.test" })
	for _, tc := range []struct {
		host, target, bucket, key string
		bad                       bool
	}{
		{"127.0.0.1:9000", "/", "", "", false},
		{"127.0.0.1:9000", "/bkt", "bkt", "", false},
		{"127.0.0.1:9000", "/bkt/", "bkt", "", false},
		{"127.0.0.1:9000", "/bkt/a//b", "bkt", "a//b", false},
		{"127.0.0.1:9000", "/bkt/../x", "bkt", "../x", false},
		{"127.0.0.1:9000", "/bkt/a%2Fb", "bkt", "a/b", false},
		{"127.0.0.1:9000", "/bkt/a%252Fb", "bkt", "a%2Fb", false},
		{"127.0.0.1:9000", "/bkt/sp%20ace+plus", "bkt", "sp ace+plus", false},
		{"127.0.0.1:9000", "/bkt/%C3%BC", "bkt", "ü", false},
		{"127.0.0.1:9000", "/bkt/trail/", "bkt", "trail/", false},
		{"bkt.s3.example.test", "/", "bkt", "", false},
		{"bkt.s3.example.test:9000", "/a//b", "bkt", "a//b", false},
		{"my.dotted.bkt.S3.example.test", "/k", "my.dotted.bkt", "k", false},
		{"s3.example.test:9000", "/bkt/k", "bkt", "k", false},
		{"other.test", "/bkt/k", "bkt", "k", false},
		{"127.0.0.1", "//k", "", "", true},
	} {
		r := httptest.NewRequest("GET", "http://"+tc.host+tc.target, nil)
		b, k, err := e.srv.route(r)
		if tc.bad {
			if err == nil {
				t.Errorf("%s%s: no error", tc.host, tc.target)
			}
			continue
		}
		if err != nil || b != tc.bucket || k != tc.key {
			t.Errorf("%s%s: got (%q,%q,%v), want (%q,%q)", tc.host, tc.target, b, k, err, tc.bucket, tc.key)
		}
	}
}

func TestIdentify(t *testing.T) {
	for _, tc := range []struct {
		method, bucket, key, query string
		hdr                        string // x-amz-copy-source
		name, action, code         string
	}{
		{"GET", "", "", "", "", "ListBuckets", "s3:ListAllMyBuckets", ""},
		{"PUT", "", "", "", "", "", "", "MethodNotAllowed"},
		{"PUT", "b", "", "", "", "CreateBucket", "s3:CreateBucket", ""},
		{"DELETE", "b", "", "", "", "DeleteBucket", "s3:DeleteBucket", ""},
		{"HEAD", "b", "", "", "", "HeadBucket", "s3:ListBucket", ""},
		{"GET", "b", "", "location", "", "GetBucketLocation", "s3:GetBucketLocation", ""},
		{"GET", "b", "", "list-type=2&prefix=a", "", "ListObjectsV2", "s3:ListBucket", ""},
		{"GET", "b", "", "list-type=3", "", "", "", "InvalidArgument"},
		{"GET", "b", "", "prefix=", "", "ListObjects", "s3:ListBucket", ""},
		{"GET", "b", "", "uploads", "", "ListMultipartUploads", "s3:ListBucketMultipartUploads", ""},
		{"GET", "b", "", "versioning", "", "GetBucketVersioning", "s3:GetBucketVersioning", ""},
		{"GET", "b", "", "acl", "", "GetBucketAcl", "s3:GetBucketAcl", ""},
		{"GET", "b", "", "policy", "", "GetBucketPolicy", "s3:GetBucketPolicy", ""},
		{"PUT", "b", "", "policy", "", "PutBucketPolicy", "s3:PutBucketPolicy", ""},
		{"DELETE", "b", "", "policy", "", "DeleteBucketPolicy", "s3:DeleteBucketPolicy", ""},
		{"PUT", "b", "", "versioning", "", "", "", "NotImplemented"},
		{"POST", "b", "", "delete", "", "DeleteObjects", "s3:DeleteObject", ""},
		{"POST", "b", "", "", "", "", "", "NotImplemented"},
		{"GET", "b", "", "tagging", "", "", "", "NotImplemented"},
		{"GET", "b", "", "cors", "", "", "", "NotImplemented"},
		{"GET", "b", "", "frobnicate", "", "", "", "NotImplemented"},
		{"GET", "b", "k", "x-id=GetObject", "", "GetObject", "s3:GetObject", ""},
		{"HEAD", "b", "k", "", "", "HeadObject", "s3:GetObject", ""},
		{"GET", "b", "k", "versionId=null", "", "GetObject", "s3:GetObjectVersion", ""},
		{"HEAD", "b", "k", "versionId=null", "", "HeadObject", "s3:GetObjectVersion", ""},
		{"GET", "b", "k", "acl&versionId=null", "", "GetObjectAcl", "s3:GetObjectVersionAcl", ""},
		{"DELETE", "b", "k", "versionId=null", "", "DeleteObject", "s3:DeleteObjectVersion", ""},
		{"GET", "b", "k", "versionId=abc", "", "", "", "InvalidArgument"},
		{"GET", "b", "k", "versionId=", "", "", "", "InvalidArgument"},
		{"GET", "b", "", "versions", "", "ListObjectVersions", "s3:ListBucketVersions", ""},
		{"GET", "b", "", "versions&prefix=a&key-marker=k&version-id-marker=null", "", "ListObjectVersions", "s3:ListBucketVersions", ""},
		{"GET", "b", "k", "response-content-type=x", "", "GetObject", "s3:GetObject", ""},
		{"GET", "b", "k", "tagging", "", "", "", "NotImplemented"},
		{"GET", "b", "k", "acl", "", "GetObjectAcl", "s3:GetObjectAcl", ""},
		{"GET", "b", "k", "uploadId=u", "", "ListParts", "s3:ListMultipartUploadParts", ""},
		{"PUT", "b", "k", "", "", "PutObject", "s3:PutObject", ""},
		{"PUT", "b", "k", "", "/s/k", "CopyObject", "s3:PutObject", ""},
		{"PUT", "b", "k", "partNumber=1&uploadId=u", "", "UploadPart", "s3:PutObject", ""},
		{"PUT", "b", "k", "partNumber=1&uploadId=u", "s/k", "UploadPartCopy", "s3:PutObject", ""},
		{"PUT", "b", "k", "partNumber=1", "", "", "", "InvalidRequest"},
		{"POST", "b", "k", "uploads", "", "CreateMultipartUpload", "s3:PutObject", ""},
		{"POST", "b", "k", "uploadId=u", "", "CompleteMultipartUpload", "s3:PutObject", ""},
		{"POST", "b", "k", "restore", "", "", "", "NotImplemented"},
		{"DELETE", "b", "k", "uploadId=u", "", "AbortMultipartUpload", "s3:AbortMultipartUpload", ""},
		{"DELETE", "b", "k", "", "", "DeleteObject", "s3:DeleteObject", ""},
		{"PATCH", "b", "k", "", "", "", "", "MethodNotAllowed"},
		{"OPTIONS", "b", "", "", "", "", "", "MethodNotAllowed"},
	} {
		q, _ := url.ParseQuery(tc.query)
		h := http.Header{}
		if tc.hdr != "" {
			h.Set("x-amz-copy-source", tc.hdr)
		}
		o, err := identify(tc.method, tc.bucket, tc.key, q, h)
		if tc.code != "" {
			if err == nil || toAPIError(err).Code != tc.code {
				t.Errorf("%s %s/%s?%s: err %v, want %s", tc.method, tc.bucket, tc.key, tc.query, err, tc.code)
			}
			continue
		}
		if err != nil || o.name != tc.name || o.action != tc.action {
			t.Errorf("%s %s/%s?%s: got %s %s %v, want %s %s", tc.method, tc.bucket, tc.key, tc.query, o.name, o.action, err, tc.name, tc.action)
		}
	}
}

func TestValidBucketName(t *testing.T) {
	for name, ok := range map[string]bool{
		"abc": true, "my-bucket.v2": true, "a1": false, strings.Repeat("a", 63): true, strings.Repeat("a", 64): false,
		"Upper": false, "-abc": false, "abc-": false, "a..b": false, "a.-b": false, "192.168.1.1": false,
		"xn--abc": false, "abc-s3alias": false, "under_score": false, "sp ace": false,
	} {
		if validBucketName(name) != ok {
			t.Errorf("validBucketName(%q) = %v", name, !ok)
		}
	}
}

// TestRecreateOwnBucketOutsideUSEast1: every region but us-east-1 answers
// re-creating your own bucket with BucketAlreadyOwnedByYou.
func TestRecreateOwnBucketOutsideUSEast1(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Region = "eu-west-1" })
	e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
	if r := e.mustDo(t, 409, "AKALICE", "PUT", "/bkt", nil); r.errCode() != "BucketAlreadyOwnedByYou" {
		t.Errorf("re-create: %s", r.body)
	}
}

func TestBucketLifecycle(t *testing.T) {
	bothBackends(t, func(t *testing.T, opt func(*Config)) {
		e := newEnv(t, opt)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
		// S3's legacy answer in us-east-1 (the default region): re-creating
		// your own bucket succeeds and changes nothing.
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
		if r := e.mustDo(t, 409, "AKBOB", "PUT", "/bkt", nil); r.errCode() != "BucketAlreadyExists" {
			t.Errorf("other org create: %s", r.body)
		}
		e.mustDo(t, 200, "AKALICE", "PUT", "/loc-ok", []byte(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>`))
		if r := e.mustDo(t, 400, "AKALICE", "PUT", "/loc-bad", []byte(`<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`)); r.errCode() != "IllegalLocationConstraintException" {
			t.Errorf("bad location: %s", r.body)
		}
		if r := e.mustDo(t, 400, "AKALICE", "PUT", "/loc-bad", []byte(`<CreateBucketConfiguration>`)); r.errCode() != "MalformedXML" {
			t.Errorf("bad xml: %s", r.body)
		}
		if r := e.mustDo(t, 400, "AKALICE", "PUT", "/Bad_Name", nil); r.errCode() != "InvalidBucketName" {
			t.Errorf("bad name: %s", r.body)
		}
		e.mustDo(t, 200, "AKBOB", "PUT", "/bobs", nil)

		r := e.mustDo(t, 200, "AKALICE", "GET", "/", nil)
		var lb listAllMyBucketsResult
		if err := xml.Unmarshal(r.body, &lb); err != nil {
			t.Fatal(err)
		}
		if len(lb.Buckets) != 2 || lb.Buckets[0].Name != "bkt" || lb.Buckets[1].Name != "loc-ok" || lb.Owner.ID != "org1" {
			t.Errorf("alice's buckets: %+v", lb)
		}
		if !bytes.Contains(r.body, []byte(`<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)) {
			t.Errorf("namespace missing: %s", r.body)
		}
		// Paging and prefix, as current SDKs ask.
		r = e.mustDo(t, 200, "AKALICE", "GET", "/?max-buckets=1", nil)
		lb = listAllMyBucketsResult{}
		if err := xml.Unmarshal(r.body, &lb); err != nil || len(lb.Buckets) != 1 || lb.Buckets[0].Name != "bkt" || lb.ContinuationToken == "" {
			t.Errorf("page 1: %s", r.body)
		}
		r = e.mustDo(t, 200, "AKALICE", "GET", "/?max-buckets=1&continuation-token="+lb.ContinuationToken, nil)
		lb = listAllMyBucketsResult{}
		if err := xml.Unmarshal(r.body, &lb); err != nil || len(lb.Buckets) != 1 || lb.Buckets[0].Name != "loc-ok" || lb.ContinuationToken != "" {
			t.Errorf("page 2: %s", r.body)
		}
		r = e.mustDo(t, 200, "AKALICE", "GET", "/?prefix=loc", nil)
		lb = listAllMyBucketsResult{}
		if err := xml.Unmarshal(r.body, &lb); err != nil || len(lb.Buckets) != 1 || lb.Buckets[0].Name != "loc-ok" || lb.Prefix != "loc" {
			t.Errorf("prefix: %s", r.body)
		}
		r = e.mustDo(t, 200, "AKALICE", "GET", "/?bucket-region=eu-west-1", nil)
		if bytes.Contains(r.body, []byte("<Bucket>")) {
			t.Errorf("other region: %s", r.body)
		}
		e.mustDo(t, 400, "AKALICE", "GET", "/?max-buckets=0", nil)
		e.mustDo(t, 200, "AKALICE", "HEAD", "/bkt", nil)
		if r := e.mustDo(t, 403, "AKBOB", "HEAD", "/bkt", nil); len(r.body) != 0 {
			t.Errorf("HEAD error has a body")
		}
		e.mustDo(t, 404, "AKBOB", "HEAD", "/nope", nil)
		r = e.mustDo(t, 200, "AKALICE", "GET", "/bkt?location", nil)
		if !bytes.Contains(r.body, []byte(`<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></LocationConstraint>`)) {
			t.Errorf("location: %s", r.body)
		}
		r = e.mustDo(t, 200, "AKALICE", "GET", "/bkt?versioning", nil)
		if !bytes.Contains(r.body, []byte(`VersioningConfiguration`)) {
			t.Errorf("versioning: %s", r.body)
		}
		r = e.mustDo(t, 200, "AKALICE", "GET", "/bkt?acl", nil)
		if !bytes.Contains(r.body, []byte(`<Permission>FULL_CONTROL</Permission>`)) {
			t.Errorf("acl: %s", r.body)
		}
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/obj", []byte("x"))
		if r := e.mustDo(t, 409, "AKALICE", "DELETE", "/bkt", nil); r.errCode() != "BucketNotEmpty" {
			t.Errorf("delete non-empty: %s", r.body)
		}
		e.mustDo(t, 403, "AKBOB", "DELETE", "/bkt/obj", nil)
		e.mustDo(t, 204, "AKALICE", "DELETE", "/bkt/obj", nil)
		e.mustDo(t, 204, "AKALICE", "DELETE", "/bkt", nil)
		if r := e.mustDo(t, 404, "AKALICE", "DELETE", "/bkt", nil); r.errCode() != "NoSuchBucket" {
			t.Errorf("delete twice: %s", r.body)
		}
		// The name is free again, for anyone.
		e.mustDo(t, 200, "AKBOB", "PUT", "/bkt", nil)
	})
}

func TestErrorDocument(t *testing.T) {
	e := newEnv(t)
	r := e.mustDo(t, 404, "AKALICE", "GET", "/nobucket/some%20key", nil)
	var eb errorBody
	if err := xml.Unmarshal(r.body, &eb); err != nil {
		t.Fatal(err)
	}
	if eb.Code != "NoSuchBucket" || eb.Resource != "/nobucket/some key" || eb.RequestID != r.h.Get("x-amz-request-id") || r.h.Get("x-amz-id-2") == "" {
		t.Errorf("error doc %+v, headers %v", eb, r.h)
	}
	if r.h.Get("Content-Type") != "application/xml" {
		t.Errorf("content type %q", r.h.Get("Content-Type"))
	}
	if !bytes.HasPrefix(r.body, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		t.Errorf("no xml header: %s", r.body)
	}
}

func TestAuthenticationFailures(t *testing.T) {
	e := newEnv(t)
	e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
	r := e.mustDo(t, 403, "", "GET", "/bkt/k", nil)
	if r.errCode() != "AccessDenied" {
		t.Errorf("anonymous: %s", r.body)
	}
	if ev := e.log.last(); ev.Decision != "Deny" || ev.ErrorCode != "AccessDenied" || ev.Status != 403 || ev.Action != "s3:GetObject" || ev.Operation != "GetObject" || ev.Resource != "bkt/k" {
		t.Errorf("anonymous event %+v", ev)
	}
	// Unauthenticated callers learn nothing about what is implemented.
	if r := e.mustDo(t, 403, "", "GET", "/bkt?tagging", nil); r.errCode() != "AccessDenied" {
		t.Errorf("anonymous NotImplemented: %s", r.body)
	}
	r = e.mustDo(t, 403, "AKNOBODY", "GET", "/bkt/k", nil)
	if r.errCode() != "InvalidAccessKeyId" {
		t.Errorf("unknown key: %s", r.body)
	}
}

func TestSTSRouting(t *testing.T) {
	var got string
	sts := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		got = r.PostForm.Get("Action")
		w.WriteHeader(200)
	})
	e := newEnv(t, func(c *Config) { c.STS = sts })
	r := httptest.NewRequest("POST", "/", strings.NewReader("Action=AssumeRoleWithSAML&Version=2011-06-15"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Errorf("STS: %d", w.Code)
	}
	if got != "AssumeRoleWithSAML" {
		t.Errorf("STS got %q", got)
	}
	// Signed or non-form POSTs to / stay S3 requests.
	got = ""
	e.mustDo(t, 405, "AKALICE", "POST", "/", []byte("Action=x"), "Content-Type", "application/x-www-form-urlencoded")
	e.mustDo(t, 403, "", "POST", "/", []byte("<x/>"), "Content-Type", "application/xml")
	if got != "" {
		t.Errorf("STS reached by S3 request")
	}
}

func TestObjectRoundTripOddKeys(t *testing.T) {
	bothBackends(t, func(t *testing.T, opt func(*Config)) {
		e := newEnv(t, opt)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
		keys := []string{"a//b", "../x", "./y", "sp ace", "ü/ñ", "a%2Fb", "plus+sign", "q?mark", "hash#tag", "trail/", "a/./b/../c", "semi;colon", "tab\tkey", "~tilde", "*star"}
		for _, k := range keys {
			target := "/bkt/" + (&url.URL{Path: k}).EscapedPath()
			target = strings.NewReplacer("?", "%3F", "#", "%23", ";", "%3B").Replace(target)
			e.mustDo(t, 200, "AKALICE", "PUT", target, []byte("data:"+k))
			r := e.mustDo(t, 200, "AKALICE", "GET", target, nil)
			if string(r.body) != "data:"+k {
				t.Errorf("key %q: got %q", k, r.body)
			}
		}
		// The escaped "/" ("%2F") is the same key as a literal one.
		r := e.mustDo(t, 200, "AKALICE", "GET", "/bkt/a%2F%2Fb", nil)
		if string(r.body) != "data:a//b" {
			t.Errorf("a%%2F%%2Fb: %q", r.body)
		}
		r = e.mustDo(t, 200, "AKALICE", "GET", "/bkt?list-type=2&encoding-type=url", nil)
		var lr listBucketResultV2
		if err := xml.Unmarshal(r.body, &lr); err != nil {
			t.Fatal(err)
		}
		if len(lr.Contents) != len(keys) {
			t.Fatalf("listed %d keys, want %d", len(lr.Contents), len(keys))
		}
		for _, c := range lr.Contents {
			k, err := url.QueryUnescape(c.Key)
			if err != nil {
				t.Errorf("listed key %q not decodable: %v", c.Key, err)
			}
			found := false
			for _, want := range keys {
				found = found || want == k
			}
			if !found {
				t.Errorf("listed key %q (decoded %q) was never put", c.Key, k)
			}
		}
		long := "/bkt/" + strings.Repeat("k", MaxKeyLength+1)
		if r := e.mustDo(t, 400, "AKALICE", "PUT", long, []byte("x")); r.errCode() != "KeyTooLongError" {
			t.Errorf("long key: %s", r.body)
		}
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/"+strings.Repeat("k", MaxKeyLength), []byte("x"))
	})
}

func TestPutGetHeaders(t *testing.T) {
	bothBackends(t, func(t *testing.T, opt func(*Config)) {
		e := newEnv(t, opt)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
		r := e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/doc.txt", []byte("hello world"),
			"Content-Type", "text/plain", "x-amz-meta-Color", "blue", "X-Amz-Meta-two-words", "a b",
			"Cache-Control", "max-age=60", "Content-Disposition", "attachment", "Content-Encoding", "aws-chunked,gzip",
			"Content-Language", "en", "Expires", "Thu, 01 Dec 2094 16:00:00 GMT")
		if r.h.Get("ETag") != `"5eb63bbbe01eeed093cb22bb8f5acdc3"` {
			t.Errorf("etag %q", r.h.Get("ETag"))
		}
		for _, m := range []string{"GET", "HEAD"} {
			r = e.mustDo(t, 200, "AKALICE", m, "/bkt/doc.txt", nil)
			for k, want := range map[string]string{
				"Content-Type": "text/plain", "X-Amz-Meta-Color": "blue", "X-Amz-Meta-Two-Words": "a b",
				"Cache-Control": "max-age=60", "Content-Disposition": "attachment", "Content-Encoding": "gzip",
				"Content-Language": "en", "Expires": "Thu, 01 Dec 2094 16:00:00 GMT", "Content-Length": "11",
				"ETag": `"5eb63bbbe01eeed093cb22bb8f5acdc3"`, "Accept-Ranges": "bytes",
			} {
				if got := r.h.Get(k); got != want {
					t.Errorf("%s %s = %q, want %q", m, k, got, want)
				}
			}
			if _, err := time.Parse(http.TimeFormat, r.h.Get("Last-Modified")); err != nil || !strings.HasSuffix(r.h.Get("Last-Modified"), "GMT") {
				t.Errorf("Last-Modified %q", r.h.Get("Last-Modified"))
			}
			if m == "HEAD" && len(r.body) != 0 {
				t.Errorf("HEAD has body")
			}
		}
		r = e.mustDo(t, 200, "AKALICE", "GET", "/bkt/doc.txt?response-content-type=application%2Fjson&response-content-disposition=inline&response-cache-control=no-cache&response-content-language=fr&response-expires=never&response-content-encoding=identity", nil)
		for k, want := range map[string]string{"Content-Type": "application/json", "Content-Disposition": "inline", "Cache-Control": "no-cache", "Content-Language": "fr", "Expires": "never", "Content-Encoding": "identity"} {
			if got := r.h.Get(k); got != want {
				t.Errorf("override %s = %q, want %q", k, got, want)
			}
		}
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/plain", []byte(""))
		r = e.mustDo(t, 200, "AKALICE", "HEAD", "/bkt/plain", nil)
		if r.h.Get("Content-Type") != "binary/octet-stream" || r.h.Get("Content-Length") != "0" {
			t.Errorf("default content type %q len %q", r.h.Get("Content-Type"), r.h.Get("Content-Length"))
		}
		big := strings.Repeat("v", MaxUserMetadataSize)
		if r := e.mustDo(t, 400, "AKALICE", "PUT", "/bkt/meta", []byte("x"), "x-amz-meta-big", big); r.errCode() != "MetadataTooLarge" {
			t.Errorf("metadata too large: %s", r.body)
		}
		if r := e.mustDo(t, 404, "AKALICE", "GET", "/bkt/missing", nil); r.errCode() != "NoSuchKey" {
			t.Errorf("missing: %s", r.body)
		}
		e.mustDo(t, 404, "AKALICE", "HEAD", "/bkt/missing", nil)
		// Conditional PUT.
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/once", []byte("1"), "If-None-Match", "*")
		if r := e.mustDo(t, 412, "AKALICE", "PUT", "/bkt/once", []byte("2"), "If-None-Match", "*"); r.errCode() != "PreconditionFailed" {
			t.Errorf("conditional put: %s", r.body)
		}
	})
}

func TestPutTooLarge(t *testing.T) {
	e := newEnv(t)
	e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
	r := httptest.NewRequest("PUT", "/bkt/big", strings.NewReader("x"))
	r.ContentLength = MaxObjectSize + 1
	r.Header.Set("Authorization", "TEST AKALICE")
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "EntityTooLarge") {
		t.Errorf("too large: %d %s", w.Code, w.Body)
	}
	// Unknown length is capped too.
	c := &capReader{r: strings.NewReader("abcdef"), left: 5}
	if _, err := io.ReadAll(c); !errors.Is(err, storage.ErrEntityTooLarge) {
		t.Errorf("capReader: %v", err)
	}
	c = &capReader{r: strings.NewReader("abcde"), left: 5}
	if b, err := io.ReadAll(c); err != nil || string(b) != "abcde" {
		t.Errorf("capReader at limit: %q %v", b, err)
	}
}

func TestRanges(t *testing.T) {
	bothBackends(t, func(t *testing.T, opt func(*Config)) {
		e := newEnv(t, opt)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/r", []byte("0123456789"))
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/empty", []byte{})
		for _, tc := range []struct {
			key, rng string
			code     int
			body, cr string
		}{
			{"r", "bytes=0-3", 206, "0123", "bytes 0-3/10"},
			{"r", "bytes=7-", 206, "789", "bytes 7-9/10"},
			{"r", "bytes=-3", 206, "789", "bytes 7-9/10"},
			{"r", "bytes=-30", 206, "0123456789", "bytes 0-9/10"},
			{"r", "bytes=5-100", 206, "56789", "bytes 5-9/10"},
			{"r", "bytes=9-9", 206, "9", "bytes 9-9/10"},
			{"r", "bytes=10-", 416, "", "bytes */10"},
			{"r", "bytes=-0", 416, "", "bytes */10"},
			{"r", "bytes=3-1", 200, "0123456789", ""},
			{"r", "bytes=0-1,3-4", 200, "0123456789", ""},
			{"r", "items=0-1", 200, "0123456789", ""},
			{"r", "bytes=x-y", 200, "0123456789", ""},
			{"empty", "bytes=0-", 416, "", "bytes */0"},
		} {
			r := e.do(t, "AKALICE", "GET", "/bkt/"+tc.key, nil, "Range", tc.rng)
			if r.code != tc.code || r.h.Get("Content-Range") != tc.cr {
				t.Errorf("%s %s: %d %q, want %d %q", tc.key, tc.rng, r.code, r.h.Get("Content-Range"), tc.code, tc.cr)
				continue
			}
			if tc.code == 416 {
				if r.errCode() != "InvalidRange" {
					t.Errorf("%s: %s", tc.rng, r.body)
				}
				continue
			}
			if string(r.body) != tc.body {
				t.Errorf("%s %s: body %q, want %q", tc.key, tc.rng, r.body, tc.body)
			}
		}
		// Reads by part number: every object is a single part.
		r := e.mustDo(t, 206, "AKALICE", "GET", "/bkt/r?partNumber=1", nil)
		if string(r.body) != "0123456789" || r.h.Get("Content-Range") != "bytes 0-9/10" || r.h.Get("x-amz-mp-parts-count") != "1" {
			t.Errorf("part 1: %q %v", r.body, r.h)
		}
		e.mustDo(t, 200, "AKALICE", "GET", "/bkt/empty?partNumber=1", nil)
		for q, code := range map[string]string{"partNumber=2": "InvalidPartNumber", "partNumber=0": "InvalidArgument", "partNumber=x": "InvalidArgument"} {
			if r := e.do(t, "AKALICE", "GET", "/bkt/r?"+q, nil); r.errCode() != code {
				t.Errorf("%s: %d %s", q, r.code, r.body)
			}
		}
		if r := e.do(t, "AKALICE", "GET", "/bkt/r?partNumber=1", nil, "Range", "bytes=0-1"); r.errCode() != "InvalidRequest" {
			t.Errorf("part and range: %s", r.body)
		}
		r = e.mustDo(t, 206, "AKALICE", "HEAD", "/bkt/r", nil, "Range", "bytes=2-4")
		if r.h.Get("Content-Length") != "3" || r.h.Get("Content-Range") != "bytes 2-4/10" {
			t.Errorf("HEAD range: %v", r.h)
		}
	})
}

func TestConditionalGet(t *testing.T) {
	bothBackends(t, func(t *testing.T, opt func(*Config)) {
		e := newEnv(t, opt)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
		r := e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/c", []byte("v1"))
		etag := r.h.Get("ETag")
		r = e.mustDo(t, 200, "AKALICE", "HEAD", "/bkt/c", nil)
		lm, _ := time.Parse(http.TimeFormat, r.h.Get("Last-Modified"))
		before := lm.Add(-time.Hour).Format(http.TimeFormat)
		after := lm.Add(time.Hour).Format(http.TimeFormat)
		for _, tc := range []struct {
			name string
			hdr  []string
			code int
		}{
			{"if-match ok", []string{"If-Match", etag}, 200},
			{"if-match unquoted", []string{"If-Match", strings.Trim(etag, `"`)}, 200},
			{"if-match list", []string{"If-Match", `"nope", ` + etag}, 200},
			{"if-match star", []string{"If-Match", "*"}, 200},
			{"if-match fail", []string{"If-Match", `"nope"`}, 412},
			{"if-none-match hit", []string{"If-None-Match", etag}, 304},
			{"if-none-match miss", []string{"If-None-Match", `"nope"`}, 200},
			{"ims not modified", []string{"If-Modified-Since", after}, 304},
			{"ims modified", []string{"If-Modified-Since", before}, 200},
			{"ius ok", []string{"If-Unmodified-Since", after}, 200},
			{"ius fail", []string{"If-Unmodified-Since", before}, 412},
			{"if-match wins over ius", []string{"If-Match", etag, "If-Unmodified-Since", before}, 200},
			{"inm miss wins over ims", []string{"If-None-Match", `"nope"`, "If-Modified-Since", after}, 200},
			{"inm hit with ims modified", []string{"If-None-Match", etag, "If-Modified-Since", before}, 304},
			{"if-match fail before inm", []string{"If-Match", `"nope"`, "If-None-Match", etag}, 412},
			{"bad date ignored", []string{"If-Modified-Since", "yesterday"}, 200},
		} {
			for _, m := range []string{"GET", "HEAD"} {
				r := e.do(t, "AKALICE", m, "/bkt/c", nil, tc.hdr...)
				if r.code != tc.code {
					t.Errorf("%s %s: %d, want %d", m, tc.name, r.code, tc.code)
				}
				if tc.code == 304 && (r.h.Get("ETag") != etag || len(r.body) != 0) {
					t.Errorf("%s %s: 304 without etag or with body", m, tc.name)
				}
				if m == "GET" && tc.code == 412 && r.errCode() != "PreconditionFailed" {
					t.Errorf("%s: %s", tc.name, r.body)
				}
			}
		}
	})
}

func TestListing(t *testing.T) {
	bothBackends(t, func(t *testing.T, opt func(*Config)) {
		e := newEnv(t, opt)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
		keys := []string{"a/1", "a/2", "a/b/3", "b/1", "c", "d e", "d+f"}
		for _, k := range keys {
			e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/"+(&url.URL{Path: k}).EscapedPath(), []byte(k))
		}
		get := func(q string) listBucketResultV2 {
			t.Helper()
			r := e.mustDo(t, 200, "AKALICE", "GET", "/bkt?"+q, nil)
			var lr listBucketResultV2
			if err := xml.Unmarshal(r.body, &lr); err != nil {
				t.Fatal(err)
			}
			return lr
		}
		names := func(lr listBucketResultV2) string {
			var s []string
			for _, c := range lr.Contents {
				s = append(s, c.Key)
			}
			for _, p := range lr.CommonPrefixes {
				s = append(s, "P:"+p.Prefix)
			}
			return strings.Join(s, ",")
		}
		lr := get("list-type=2&delimiter=/")
		if names(lr) != "c,d e,d+f,P:a/,P:b/" || lr.KeyCount != 5 || lr.IsTruncated {
			t.Errorf("delimiter: %s %+v", names(lr), lr)
		}
		lr = get("list-type=2&prefix=a/&delimiter=/")
		if names(lr) != "a/1,a/2,P:a/b/" || lr.Prefix != "a/" {
			t.Errorf("prefix: %s", names(lr))
		}
		// Paging with continuation tokens visits every key once, in order.
		var all []string
		tok := ""
		for pages := 0; ; pages++ {
			q := "list-type=2&max-keys=2"
			if tok != "" {
				q += "&continuation-token=" + url.QueryEscape(tok)
			}
			lr = get(q)
			for _, c := range lr.Contents {
				all = append(all, c.Key)
			}
			if !lr.IsTruncated {
				break
			}
			if lr.NextContinuationToken == "" || pages > 10 {
				t.Fatal("truncated without token")
			}
			tok = lr.NextContinuationToken
		}
		if strings.Join(all, ",") != strings.Join(keys, ",") {
			t.Errorf("paged: %v", all)
		}
		lr = get("list-type=2&start-after=b/1")
		if names(lr) != "c,d e,d+f" || lr.StartAfter != "b/1" {
			t.Errorf("start-after: %s", names(lr))
		}
		lr = get("list-type=2&max-keys=0")
		if len(lr.Contents) != 0 || lr.IsTruncated || lr.MaxKeys != 0 {
			t.Errorf("max-keys=0: %+v", lr)
		}
		lr = get("list-type=2&max-keys=5000")
		if lr.MaxKeys != 1000 || len(lr.Contents) != len(keys) {
			t.Errorf("max-keys clamp: %d", lr.MaxKeys)
		}
		lr = get("list-type=2&encoding-type=url&prefix=d")
		if names(lr) != "d%20e,d%2Bf" || lr.EncodingType != "url" {
			t.Errorf("url encoding: %s", names(lr))
		}
		for _, q := range []string{"list-type=2&continuation-token=%21%21", "list-type=2&max-keys=-1", "list-type=2&max-keys=x", "list-type=2&encoding-type=base64"} {
			if r := e.mustDo(t, 400, "AKALICE", "GET", "/bkt?"+q, nil); r.errCode() != "InvalidArgument" {
				t.Errorf("%s: %s", q, r.body)
			}
		}
		// V1 with marker.
		r := e.mustDo(t, 200, "AKALICE", "GET", "/bkt?marker=a/2&max-keys=2", nil)
		var v1 listBucketResultV1
		if err := xml.Unmarshal(r.body, &v1); err != nil {
			t.Fatal(err)
		}
		if len(v1.Contents) != 2 || v1.Contents[0].Key != "a/b/3" || !v1.IsTruncated || v1.NextMarker != "b/1" || v1.Marker != "a/2" || v1.Contents[0].Owner == nil {
			t.Errorf("v1: %+v", v1)
		}
		if !bytes.Contains(r.body, []byte(`<ETag>&#34;`)) && !bytes.Contains(r.body, []byte(`<ETag>"`)) {
			t.Errorf("etag not quoted: %s", r.body)
		}
		if !bytes.Contains(r.body, []byte(`.000Z</LastModified>`)) && !bytes.Contains(r.body, []byte(`Z</LastModified>`)) {
			t.Errorf("LastModified format: %s", r.body)
		}
		e.mustDo(t, 404, "AKALICE", "GET", "/nobkt?list-type=2", nil)
	})
}

func TestDeleteObjects(t *testing.T) {
	bothBackends(t, func(t *testing.T, opt func(*Config)) {
		e := newEnv(t, opt)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
		for _, k := range []string{"a", "b", "c"} {
			e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/"+k, []byte(k))
		}
		doc := `<Delete><Object><Key>a</Key></Object><Object><Key>b</Key></Object><Object><Key>zz</Key></Object><Object><Key></Key></Object></Delete>`
		if r := e.mustDo(t, 400, "AKALICE", "POST", "/bkt?delete", []byte(doc)); r.errCode() != "InvalidRequest" {
			t.Errorf("no md5: %s", r.body)
		}
		e.log = &memLog{}
		e.srv.accessLog = e.log
		r := e.mustDo(t, 200, "AKALICE", "POST", "/bkt?delete", []byte(doc), "Content-MD5", "x")
		var res deleteResult
		if err := xml.Unmarshal(r.body, &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Deleted) != 3 || len(res.Errors) != 1 || res.Errors[0].Code != "UserKeyMustBeSpecified" {
			t.Errorf("delete result %+v", res)
		}
		if evs := e.log.events(); len(evs) != 4 || evs[0].Resource != "bkt/a" || evs[0].Decision != "Allow" || evs[0].Action != "s3:DeleteObject" {
			t.Errorf("per-key events %+v", evs)
		}
		r = e.mustDo(t, 200, "AKALICE", "POST", "/bkt?delete", []byte(`<Delete><Quiet>true</Quiet><Object><Key>c</Key></Object></Delete>`), "x-amz-checksum-crc32", "AAAAAA==")
		if bytes.Contains(r.body, []byte("<Deleted>")) {
			t.Errorf("quiet mode lists deletions: %s", r.body)
		}
		e.mustDo(t, 404, "AKALICE", "HEAD", "/bkt/c", nil)
		for name, body := range map[string]string{
			"malformed": "<Delete><Object>",
			"empty":     "<Delete></Delete>",
			"too many":  "<Delete>" + strings.Repeat("<Object><Key>k</Key></Object>", MaxDeleteObjects+1) + "</Delete>",
		} {
			if r := e.mustDo(t, 400, "AKALICE", "POST", "/bkt?delete", []byte(body), "Content-MD5", "x"); r.errCode() != "MalformedXML" {
				t.Errorf("%s: %s", name, r.body)
			}
		}
		big := bytes.Repeat([]byte(" "), int(MaxXMLBodySize)+1)
		if r := e.mustDo(t, 400, "AKALICE", "POST", "/bkt?delete", big, "Content-MD5", "x"); r.errCode() != "MaxMessageLengthExceeded" {
			t.Errorf("too big: %s", r.body)
		}
		// Denied keys are reported per key, others still deleted.
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/d", []byte("d"))
		e.authz.deny["s3:DeleteObject"] = true
		r = e.mustDo(t, 200, "AKALICE", "POST", "/bkt?delete", []byte(`<Delete><Object><Key>d</Key></Object></Delete>`), "Content-MD5", "x")
		if !bytes.Contains(r.body, []byte("<Code>AccessDenied</Code>")) || !bytes.Contains(r.body, []byte("deny-DeleteObject")) {
			t.Errorf("denied key: %s", r.body)
		}
		e.mustDo(t, 200, "AKALICE", "HEAD", "/bkt/d", nil)
		// Another org's caller on a bucket it cannot see: every key denied.
		delete(e.authz.deny, "s3:DeleteObject")
		r = e.mustDo(t, 200, "AKBOB", "POST", "/bkt?delete", []byte(`<Delete><Object><Key>d</Key></Object></Delete>`), "Content-MD5", "x")
		if !bytes.Contains(r.body, []byte("<Code>AccessDenied</Code>")) {
			t.Errorf("other org: %s", r.body)
		}
		if r := e.mustDo(t, 404, "AKALICE", "POST", "/nobkt?delete", []byte(`<Delete><Object><Key>d</Key></Object></Delete>`), "Content-MD5", "x"); r.errCode() != "NoSuchBucket" {
			t.Errorf("missing bucket: %s", r.body)
		}
	})
}

func TestCopyObject(t *testing.T) {
	bothBackends(t, func(t *testing.T, opt func(*Config)) {
		e := newEnv(t, opt)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt2", nil)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/src%20key", []byte("payload"), "Content-Type", "text/x-src", "x-amz-meta-a", "1")
		r := e.mustDo(t, 200, "AKALICE", "PUT", "/bkt2/dst", nil, "x-amz-copy-source", "/bkt/src%20key")
		var cr copyObjectResult
		if err := xml.Unmarshal(r.body, &cr); err != nil || cr.ETag != `"`+md5hex([]byte("payload"))+`"` || !strings.HasSuffix(cr.LastModified, "Z") {
			t.Errorf("copy result %+v %v: %s", cr, err, r.body)
		}
		r = e.mustDo(t, 200, "AKALICE", "GET", "/bkt2/dst", nil)
		if string(r.body) != "payload" || r.h.Get("Content-Type") != "text/x-src" || r.h.Get("X-Amz-Meta-A") != "1" {
			t.Errorf("copied: %q %v", r.body, r.h)
		}
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt2/dst2", nil, "x-amz-copy-source", "bkt/src%20key", "x-amz-metadata-directive", "REPLACE", "Content-Type", "text/new", "x-amz-meta-b", "2")
		r = e.mustDo(t, 200, "AKALICE", "HEAD", "/bkt2/dst2", nil)
		if r.h.Get("Content-Type") != "text/new" || r.h.Get("X-Amz-Meta-B") != "2" || r.h.Get("X-Amz-Meta-A") != "" {
			t.Errorf("replaced: %v", r.h)
		}
		for name, tc := range map[string]struct {
			hdr  []string
			code int
			want string
		}{
			"self copy":      {[]string{"x-amz-copy-source", "/bkt/src%20key"}, 400, "InvalidRequest"},
			"bad directive":  {[]string{"x-amz-copy-source", "/bkt2/dst", "x-amz-metadata-directive", "MERGE"}, 400, "InvalidArgument"},
			"version":        {[]string{"x-amz-copy-source", "/bkt2/dst?versionId=3"}, 400, "InvalidArgument"},
			"no key":         {[]string{"x-amz-copy-source", "/bkt2"}, 400, "InvalidArgument"},
			"missing source": {[]string{"x-amz-copy-source", "/bkt2/none"}, 404, "NoSuchKey"},
			"missing bucket": {[]string{"x-amz-copy-source", "/nobkt/none"}, 404, "NoSuchBucket"},
			"cond fail":      {[]string{"x-amz-copy-source", "/bkt2/dst", "x-amz-copy-source-if-match", `"nope"`}, 412, "PreconditionFailed"},
		} {
			r := e.do(t, "AKALICE", "PUT", "/bkt/src%20key", nil, tc.hdr...)
			if r.code != tc.code || r.errCode() != tc.want {
				t.Errorf("%s: %d %s", name, r.code, r.body)
			}
		}
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/src%20key", nil, "x-amz-copy-source", "/bkt/src%20key", "x-amz-metadata-directive", "REPLACE")
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/x", nil, "x-amz-copy-source", "/bkt2/dst?versionId=null", "x-amz-copy-source-if-match", cr.ETag)
		// Bob may write his own bucket but not read Alice's source.
		e.mustDo(t, 200, "AKBOB", "PUT", "/bobs", nil)
		e.log = &memLog{}
		e.srv.accessLog = e.log
		if r := e.mustDo(t, 403, "AKBOB", "PUT", "/bobs/stolen", nil, "x-amz-copy-source", "/bkt/x"); r.errCode() != "AccessDenied" {
			t.Errorf("cross-org copy: %s", r.body)
		}
		if ev := e.log.last(); ev.Action != "s3:GetObject" || ev.Resource != "bkt/x" || ev.Decision != "Deny" {
			t.Errorf("copy deny event %+v", ev)
		}
		// With a bucket-policy grant it works.
		e.authz.grant["bkt"] = "org2"
		e.mustDo(t, 200, "AKBOB", "PUT", "/bobs/granted", nil, "x-amz-copy-source", "/bkt/x")
	})
}

func TestMultipart(t *testing.T) {
	bothBackends(t, func(t *testing.T, opt func(*Config)) {
		e := newEnv(t, opt)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
		r := e.mustDo(t, 200, "AKALICE", "POST", "/bkt/big%20obj?uploads", nil, "Content-Type", "video/x-test", "x-amz-meta-k", "v")
		var ini initiateMultipartUploadResult
		if err := xml.Unmarshal(r.body, &ini); err != nil || ini.UploadID == "" || ini.Key != "big obj" || ini.Bucket != "bkt" {
			t.Fatalf("initiate: %+v %v", ini, err)
		}
		id := url.QueryEscape(ini.UploadID)
		p1 := bytes.Repeat([]byte("a"), storage.MinPartSize)
		p2 := []byte("tail")
		r1 := e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/big%20obj?partNumber=1&uploadId="+id, p1)
		r2 := e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/big%20obj?partNumber=2&uploadId="+id, p2)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/src", []byte("0123456789"))
		r3 := e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/big%20obj?partNumber=3&uploadId="+id, nil, "x-amz-copy-source", "/bkt/src", "x-amz-copy-source-range", "bytes=2-5")
		var cp copyPartResult
		if err := xml.Unmarshal(r3.body, &cp); err != nil || cp.ETag != `"`+md5hex([]byte("2345"))+`"` {
			t.Errorf("part copy %+v %v", cp, err)
		}
		for _, bad := range []string{"bytes=2-", "bytes=5-2", "bytes=0-10", "2-5"} {
			if r := e.mustDo(t, 400, "AKALICE", "PUT", "/bkt/big%20obj?partNumber=4&uploadId="+id, nil, "x-amz-copy-source", "/bkt/src", "x-amz-copy-source-range", bad); r.errCode() != "InvalidArgument" {
				t.Errorf("copy range %q: %s", bad, r.body)
			}
		}
		for _, pn := range []string{"0", "10001", "x"} {
			if r := e.mustDo(t, 400, "AKALICE", "PUT", "/bkt/big%20obj?partNumber="+pn+"&uploadId="+id, []byte("x")); r.errCode() != "InvalidArgument" {
				t.Errorf("part %s: %s", pn, r.body)
			}
		}
		if r := e.mustDo(t, 404, "AKALICE", "PUT", "/bkt/big%20obj?partNumber=1&uploadId=nope", []byte("x")); r.errCode() != "NoSuchUpload" {
			t.Errorf("bad upload id: %s", r.body)
		}
		r = e.mustDo(t, 200, "AKALICE", "GET", "/bkt/big%20obj?uploadId="+id+"&max-parts=2", nil)
		lp := listPartsResult{}
		if err := xml.Unmarshal(r.body, &lp); err != nil || len(lp.Parts) != 2 || !lp.IsTruncated || lp.NextPartNumberMarker != 2 || lp.Parts[1].ETag != r2.h.Get("ETag") {
			t.Errorf("list parts %+v %v", lp, err)
		}
		r = e.mustDo(t, 200, "AKALICE", "GET", "/bkt/big%20obj?uploadId="+id+"&part-number-marker=2", nil)
		lp = listPartsResult{}
		if err := xml.Unmarshal(r.body, &lp); err != nil || len(lp.Parts) != 1 || lp.Parts[0].PartNumber != 3 || lp.IsTruncated {
			t.Errorf("list parts page 2 %+v %v", lp, err)
		}
		// A second upload to list.
		e.mustDo(t, 200, "AKALICE", "POST", "/bkt/dir/other?uploads", nil)
		r = e.mustDo(t, 200, "AKALICE", "GET", "/bkt?uploads", nil)
		lu := listMultipartUploadsResult{}
		if err := xml.Unmarshal(r.body, &lu); err != nil || len(lu.Uploads) != 2 || lu.Uploads[0].Key != "big obj" {
			t.Errorf("list uploads %+v %v", lu, err)
		}
		r = e.mustDo(t, 200, "AKALICE", "GET", "/bkt?uploads&delimiter=/", nil)
		lu = listMultipartUploadsResult{}
		if err := xml.Unmarshal(r.body, &lu); err != nil || len(lu.Uploads) != 1 || len(lu.CommonPrefixes) != 1 || lu.CommonPrefixes[0].Prefix != "dir/" {
			t.Errorf("list uploads delimiter %+v %v", lu, err)
		}
		r = e.mustDo(t, 200, "AKALICE", "GET", "/bkt?uploads&max-uploads=1", nil)
		lu = listMultipartUploadsResult{}
		if err := xml.Unmarshal(r.body, &lu); err != nil || len(lu.Uploads) != 1 || !lu.IsTruncated || lu.NextKeyMarker != "big obj" {
			t.Errorf("list uploads paged %+v %v", lu, err)
		}
		r = e.mustDo(t, 200, "AKALICE", "GET", "/bkt?uploads&key-marker="+url.QueryEscape(lu.NextKeyMarker)+"&upload-id-marker="+lu.NextUploadIDMarker, nil)
		lu = listMultipartUploadsResult{}
		if err := xml.Unmarshal(r.body, &lu); err != nil || len(lu.Uploads) != 1 || lu.Uploads[0].Key != "dir/other" {
			t.Errorf("list uploads page 2 %+v %v", lu, err)
		}

		complete := func(parts ...string) string {
			s := "<CompleteMultipartUpload>"
			for i := 0; i+1 < len(parts); i += 2 {
				s += "<Part><PartNumber>" + parts[i] + "</PartNumber><ETag>" + parts[i+1] + "</ETag></Part>"
			}
			return s + "</CompleteMultipartUpload>"
		}
		for name, tc := range map[string]struct {
			body string
			code int
			want string
		}{
			"order":     {complete("2", r2.h.Get("ETag"), "1", r1.h.Get("ETag")), 400, "InvalidPartOrder"},
			"etag":      {complete("1", `"bad"`, "2", r2.h.Get("ETag")), 400, "InvalidPart"},
			"too small": {complete("2", r2.h.Get("ETag"), "3", cp.ETag), 400, "EntityTooSmall"},
			"empty":     {"<CompleteMultipartUpload></CompleteMultipartUpload>", 400, "MalformedXML"},
			"malformed": {"<CompleteMultipartUpload><Part>", 400, "MalformedXML"},
		} {
			r := e.do(t, "AKALICE", "POST", "/bkt/big%20obj?uploadId="+id, []byte(tc.body))
			if r.code != tc.code || r.errCode() != tc.want {
				t.Errorf("complete %s: %d %s", name, r.code, r.body)
			}
		}
		r = e.mustDo(t, 200, "AKALICE", "POST", "/bkt/big%20obj?uploadId="+id, []byte(complete("1", r1.h.Get("ETag"), "2", strings.Trim(r2.h.Get("ETag"), `"`))))
		var cr completeMultipartUploadResult
		if err := xml.Unmarshal(r.body, &cr); err != nil || !strings.HasSuffix(cr.ETag, `-2"`) || cr.Key != "big obj" || !strings.HasSuffix(cr.Location, "/bkt/big%20obj") {
			t.Errorf("complete %+v %v", cr, err)
		}
		r = e.mustDo(t, 200, "AKALICE", "HEAD", "/bkt/big%20obj", nil)
		if r.h.Get("Content-Length") != fmt.Sprint(len(p1)+len(p2)) || r.h.Get("Content-Type") != "video/x-test" || r.h.Get("X-Amz-Meta-K") != "v" || r.h.Get("ETag") != cr.ETag {
			t.Errorf("completed object %v", r.h)
		}
		// Abort.
		r = e.mustDo(t, 200, "AKALICE", "POST", "/bkt/gone?uploads", nil)
		_ = xml.Unmarshal(r.body, &ini)
		e.mustDo(t, 204, "AKALICE", "DELETE", "/bkt/gone?uploadId="+url.QueryEscape(ini.UploadID), nil)
		if r := e.mustDo(t, 404, "AKALICE", "DELETE", "/bkt/gone?uploadId="+url.QueryEscape(ini.UploadID), nil); r.errCode() != "NoSuchUpload" {
			t.Errorf("abort twice: %s", r.body)
		}
	})
}

func TestBucketPolicy(t *testing.T) {
	var validated string
	e := newEnv(t, func(c *Config) {
		c.PolicyValidator = func(bucket string, doc []byte) error {
			validated = bucket
			if bytes.Contains(doc, []byte("Bogus")) {
				return errors.New(`statement 0: field "Effect": must be Allow or Deny`)
			}
			return nil
		}
	})
	e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
	if r := e.mustDo(t, 404, "AKALICE", "GET", "/bkt?policy", nil); r.errCode() != "NoSuchBucketPolicy" {
		t.Errorf("no policy: %s", r.body)
	}
	pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}]}`
	e.mustDo(t, 204, "AKALICE", "PUT", "/bkt?policy", []byte(pol))
	if validated != "bkt" {
		t.Errorf("validator not called")
	}
	r := e.mustDo(t, 200, "AKALICE", "GET", "/bkt?policy", nil)
	if string(r.body) != pol || r.h.Get("Content-Type") != "application/json" {
		t.Errorf("get policy: %s", r.body)
	}
	if r := e.mustDo(t, 400, "AKALICE", "PUT", "/bkt?policy", []byte(`{"Effect":"Bogus"}`)); r.errCode() != "MalformedPolicy" || !bytes.Contains(r.body, []byte("must be Allow or Deny")) {
		t.Errorf("invalid: %s", r.body)
	}
	if r := e.mustDo(t, 400, "AKALICE", "PUT", "/bkt?policy", []byte(`{not json`)); r.errCode() != "MalformedPolicy" {
		t.Errorf("not json: %s", r.body)
	}
	big := `{"x":"` + strings.Repeat("a", int(MaxPolicySize)) + `"}`
	if r := e.mustDo(t, 400, "AKALICE", "PUT", "/bkt?policy", []byte(big)); r.errCode() != "MalformedPolicy" {
		t.Errorf("too big: %s", r.body)
	}
	// Authorizer sees the stored policy on later requests.
	e.mustDo(t, 404, "AKALICE", "GET", "/bkt/k", nil)
	reqs := e.authz.requests()
	if last := reqs[len(reqs)-1]; string(last.BucketPolicy) != pol || last.BucketOwnerOrg != "org1" || last.Resource != "bkt/k" || last.Action != "s3:GetObject" {
		t.Errorf("authz request %+v", last)
	}
	e.mustDo(t, 403, "AKBOB", "GET", "/bkt?policy", nil)
	e.mustDo(t, 204, "AKALICE", "DELETE", "/bkt?policy", nil)
	e.mustDo(t, 404, "AKALICE", "GET", "/bkt?policy", nil)
	e.mustDo(t, 204, "AKALICE", "DELETE", "/bkt?policy", nil)
}

func TestAuthorizationAndAudit(t *testing.T) {
	bothBackends(t, func(t *testing.T, opt func(*Config)) {
		e := newEnv(t, opt)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/k", []byte("abc"))
		e.authz.deny["s3:GetObject"] = true
		r := e.mustDo(t, 403, "AKALICE", "GET", "/bkt/k", nil)
		if r.errCode() != "AccessDenied" || !bytes.Contains(r.body, []byte("org-policy/deny-GetObject")) {
			t.Errorf("deny: %s", r.body)
		}
		ev := e.log.last()
		want := AccessEvent{Time: ev.Time, RequestID: r.h.Get("x-amz-request-id"), OrgID: "org1", PrincipalName: alice.PrincipalName,
			Role: "admin", AccessKeyID: "AKALICE", Action: "s3:GetObject", Resource: "bkt/k", Decision: "Deny",
			Statement: "org-policy/deny-GetObject", SourceIP: "192.0.2.1", Status: 403, BytesOut: int64(len(r.body)), ErrorCode: "AccessDenied",
			Operation: "GetObject", Duration: ev.Duration}
		if ev.Duration <= 0 {
			t.Errorf("no duration")
		}
		if ev != want {
			t.Errorf("event\n got %+v\nwant %+v", ev, want)
		}
		// On another org's bucket the statement is audited but not shown: it may
		// be the owner's bucket policy.
		r = e.mustDo(t, 403, "AKBOB", "GET", "/bkt/k", nil)
		if r.errCode() != "AccessDenied" || bytes.Contains(r.body, []byte("deny-GetObject")) {
			t.Errorf("foreign deny reveals statement: %s", r.body)
		}
		if ev := e.log.last(); ev.Statement != "org-policy/deny-GetObject" || ev.OrgID != "org2" {
			t.Errorf("foreign deny event %+v", ev)
		}
		delete(e.authz.deny, "s3:GetObject")
		r = e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/k2", []byte("12345"))
		if ev := e.log.last(); ev.Decision != "Allow" || ev.BytesIn != 5 || ev.Status != 200 || ev.Statement != "org-policy/allow-all" || ev.Action != "s3:PutObject" {
			t.Errorf("put event %+v", ev)
		}
		r = e.mustDo(t, 200, "AKALICE", "GET", "/bkt/k2", nil)
		if ev := e.log.last(); ev.BytesOut != 5 || ev.ErrorCode != "" {
			t.Errorf("get event %+v", ev)
		}
		// Other org: AccessDenied on an existing bucket, NoSuchBucket on a free name.
		if r := e.mustDo(t, 403, "AKBOB", "GET", "/bkt/k", nil); r.errCode() != "AccessDenied" {
			t.Errorf("other org: %s", r.body)
		}
		if r := e.mustDo(t, 403, "AKBOB", "GET", "/bkt?list-type=2", nil); r.errCode() != "AccessDenied" {
			t.Errorf("other org list: %s", r.body)
		}
		e.mustDo(t, 404, "AKBOB", "GET", "/free-name/k", nil)
		// CreateBucket is decided without the existing owner.
		e.authz.deny["s3:CreateBucket"] = true
		if r := e.mustDo(t, 403, "AKBOB", "PUT", "/bkt", nil); r.errCode() != "AccessDenied" {
			t.Errorf("create denied: %s", r.body)
		}
		reqs := e.authz.requests()
		if last := reqs[len(reqs)-1]; last.Action != "s3:CreateBucket" || last.BucketOwnerOrg != "" || last.BucketPolicy != nil {
			t.Errorf("create authz %+v", last)
		}
		// ListBuckets is on "*".
		e.mustDo(t, 200, "AKBOB", "GET", "/", nil)
		reqs = e.authz.requests()
		if last := reqs[len(reqs)-1]; last.Action != "s3:ListAllMyBuckets" || last.Resource != "*" {
			t.Errorf("list buckets authz %+v", last)
		}
		// ListBucket carries the prefix.
		e.mustDo(t, 200, "AKALICE", "GET", "/bkt?list-type=2&prefix=k", nil)
		reqs = e.authz.requests()
		if last := reqs[len(reqs)-1]; last.Prefix != "k" || last.Resource != "bkt" || last.SecureTransport {
			t.Errorf("list authz %+v", last)
		}
		// x-amz-expected-bucket-owner protects a client from the wrong bucket.
		e.mustDo(t, 200, "AKALICE", "HEAD", "/bkt/k", nil, "x-amz-expected-bucket-owner", "org1")
		if r := e.mustDo(t, 403, "AKALICE", "PUT", "/bkt/x", []byte("x"), "x-amz-expected-bucket-owner", "org2"); r.errCode() != "AccessDenied" {
			t.Errorf("expected owner: %s", r.body)
		}
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/copy", nil, "x-amz-copy-source", "/bkt/k", "x-amz-source-expected-bucket-owner", "org1")
		e.mustDo(t, 403, "AKALICE", "PUT", "/bkt/copy", nil, "x-amz-copy-source", "/bkt/k", "x-amz-source-expected-bucket-owner", "org9")
		// A denied request never reaches the backend.
		e.authz.deny["s3:PutObject"] = true
		e.mustDo(t, 403, "AKALICE", "PUT", "/bkt/never", []byte("x"))
		delete(e.authz.deny, "s3:PutObject")
		e.mustDo(t, 404, "AKALICE", "HEAD", "/bkt/never", nil)
	})
}

// panicBackend panics on GetObject to check recovery.
type panicBackend struct{ storage.Backend }

func (panicBackend) GetObject(context.Context, string, string, *storage.Range) (storage.ObjectInfo, io.ReadCloser, error) {
	panic("boom")
}

func TestPanicRecovered(t *testing.T) {
	e := newEnv(t)
	e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
	e.srv.backend = panicBackend{e.be}
	r := httptest.NewRequest("GET", "/bkt/k", nil)
	r.Header.Set("Authorization", "TEST AKALICE")
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	if w.Code != 500 || !strings.Contains(w.Body.String(), "InternalError") {
		t.Errorf("panic: %d %s", w.Code, w.Body)
	}
	if ev := e.log.last(); ev.Status != 500 || ev.ErrorCode != "InternalError" {
		t.Errorf("panic event %+v", ev)
	}
}

func TestNotImplementedAndMalformed(t *testing.T) {
	e := newEnv(t)
	e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
	for _, tc := range []struct {
		method, target string
		code           int
		want           string
	}{
		{"GET", "/bkt?tagging", 501, "NotImplemented"},
		{"PUT", "/bkt?ownershipControls", 501, "NotImplemented"},
		{"POST", "/bkt", 501, "NotImplemented"},
		{"PATCH", "/bkt/k", 405, "MethodNotAllowed"},
		{"GET", "/bkt?%zz", 400, "InvalidArgument"},
		{"PUT", "/bkt/k?uploadId=x", 400, "InvalidRequest"},
	} {
		r := e.do(t, "AKALICE", tc.method, tc.target, nil)
		if r.code != tc.code || r.errCode() != tc.want {
			t.Errorf("%s %s: %d %s", tc.method, tc.target, r.code, r.body)
		}
	}
	// Conditional writes name one ETag; S3 does not implement lists.
	if r := e.mustDo(t, 501, "AKALICE", "PUT", "/bkt/k", []byte("x"), "If-None-Match", `"abc", "def"`); r.errCode() != "NotImplemented" {
		t.Errorf("PUT If-None-Match list: %s", r.body)
	}
	if r := e.mustDo(t, 501, "AKALICE", "PUT", "/bkt/k", []byte("x"), "If-Match", `"abc", "def"`); r.errCode() != "NotImplemented" {
		t.Errorf("PUT If-Match list: %s", r.body)
	}
	for _, h := range [][]string{
		{"x-amz-server-side-encryption", "AES256"},
		{"x-amz-server-side-encryption-customer-algorithm", "AES256"},
		{"x-amz-object-lock-mode", "GOVERNANCE"},
		{"x-amz-tagging", "a=b"},
	} {
		if r := e.mustDo(t, 501, "AKALICE", "PUT", "/bkt/k", []byte("x"), h...); r.errCode() != "NotImplemented" {
			t.Errorf("PUT %s: %s", h[0], r.body)
		}
		if r := e.mustDo(t, 501, "AKALICE", "POST", "/bkt/k?uploads", nil, h...); r.errCode() != "NotImplemented" {
			t.Errorf("CreateMultipartUpload %s: %s", h[0], r.body)
		}
	}
	if r := e.mustDo(t, 400, "AKALICE", "PUT", "/bkt/k", []byte("x"), "x-amz-storage-class", "GLACIER"); r.errCode() != "InvalidStorageClass" {
		t.Errorf("storage class: %s", r.body)
	}
	e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/k", []byte("x"), "x-amz-storage-class", "STANDARD")
	e.mustDo(t, 404, "AKALICE", "HEAD", "/bkt/never-written", nil)
}

func TestVirtualHosted(t *testing.T) {
	bothBackends(t, func(t *testing.T, opt func(*Config)) {
		e := newEnv(t, opt, func(c *Config) { c.Domain = "s3.local.test" })
		e.mustDo(t, 200, "AKALICE", "PUT", "/", nil, "Host", "vbkt.s3.local.test:9000")
		e.mustDo(t, 200, "AKALICE", "PUT", "/a//b", []byte("vh"), "Host", "vbkt.s3.local.test:9000")
		r := e.mustDo(t, 200, "AKALICE", "GET", "/vbkt/a//b", nil, "Host", "s3.local.test:9000")
		if string(r.body) != "vh" {
			t.Errorf("path-style read of virtual-hosted put: %q", r.body)
		}
		r = e.mustDo(t, 200, "AKALICE", "GET", "/?list-type=2", nil, "Host", "vbkt.s3.local.test")
		if !bytes.Contains(r.body, []byte("<Key>a//b</Key>")) {
			t.Errorf("vh list: %s", r.body)
		}
	})
}

func TestParseCopySource(t *testing.T) {
	for _, tc := range []struct {
		in, b, k  string
		versioned bool
	}{
		{"/bkt/key", "bkt", "key", false},
		{"bkt/a%20b/c", "bkt", "a b/c", false},
		{"bkt/a%2Fb", "bkt", "a/b", false},
		{"/bkt/q%3Fx?versionId=null", "bkt", "q?x", true},
		{"bkt//double", "bkt", "/double", false},
	} {
		b, k, versioned, err := parseCopySource(tc.in)
		if err != nil || b != tc.b || k != tc.k || versioned != tc.versioned {
			t.Errorf("%q: (%q,%q,%v,%v)", tc.in, b, k, versioned, err)
		}
	}
	for _, bad := range []string{"", "/", "bkt", "bkt/", "/Bad_B/k", "bkt/%zz", "bkt/k?versionId=1", "bkt/k?versionId="} {
		if _, _, _, err := parseCopySource(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The fs store batches DeleteObjects; the front door must notice.
var _ BatchDeleter = (*fs.Store)(nil)
