package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/s3fed/s3fed/internal/s3/sigv4"
	"github.com/s3fed/s3fed/internal/storage/fs"
)

// Test credentials: alice (org1) with a session token, bob (org2) without.
var testCreds = map[string]sigv4.Credential{
	"AKIAALICE0000000": {AccessKeyID: "AKIAALICE0000000", SecretKey: "alice-secret-key-000000000000000", SessionToken: "alice-session-token", Identity: alice},
	"AKIABOB000000000": {AccessKeyID: "AKIABOB000000000", SecretKey: "bob-secret-key-00000000000000000", Identity: bob},
	// carol's key expires an hour after the test binary starts.
	"AKIACAROL0000000": {AccessKeyID: "AKIACAROL0000000", SecretKey: "carol-secret-key-000000000000000", Identity: alice, Expiry: time.Now().Add(time.Hour)},
}

// liveEnv is the front door with the real SigV4 verifier and fs backend
// behind an httptest server.
type liveEnv struct {
	ts    *httptest.Server
	srv   *Server
	bk    *memBuckets
	authz *testAuthz
	log   *memLog
	store *fs.Store

	mu     sync.Mutex
	modes  map[string]int // x-amz-content-sha256 modes seen
	offset time.Duration  // added to the verifier's clock
}

// now is the verifier's clock: real time moved by offset.
func (e *liveEnv) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return time.Now().Add(e.offset)
}

func (e *liveEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.offset += d
}

// seen reports whether a payload mode reached the verifier.
func (e *liveEnv) seen(mode string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.modes[mode] > 0
}

type authFunc func(*http.Request) (*sigv4.Result, error)

func (f authFunc) Verify(r *http.Request) (*sigv4.Result, error) { return f(r) }

// liveAuth verifies requests through rec (which records payload modes) and
// POST policies with the verifier itself.
type liveAuth struct {
	rec authFunc
	ver *sigv4.Verifier
}

func (a liveAuth) Verify(r *http.Request) (*sigv4.Result, error) { return a.rec(r) }

func (a liveAuth) VerifyPost(ctx context.Context, f sigv4.PostForm) (sigv4.Credential, error) {
	return a.ver.VerifyPost(ctx, f)
}

func newLiveEnv(t testing.TB, useTLS bool, domain string) *liveEnv {
	t.Helper()
	// The environment's CA bundle would make the SDK replace our client's
	// TLS roots; these tests bring their own.
	t.Setenv("AWS_CA_BUNDLE", "")
	os.Unsetenv("AWS_CA_BUNDLE")
	store, err := fs.Open(t.TempDir(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	e := &liveEnv{bk: newMemBuckets(), authz: &testAuthz{deny: map[string]bool{}, grant: map[string]string{}}, log: &memLog{}, store: store}
	ver := &sigv4.Verifier{Region: "us-east-1", Service: "s3", Now: e.now, Source: sigv4.CredentialSourceFunc(func(_ context.Context, id string) (sigv4.Credential, error) {
		c, ok := testCreds[id]
		if !ok {
			return sigv4.Credential{}, sigv4.ErrUnknownAccessKey
		}
		if !c.Expiry.IsZero() && !e.now().Before(c.Expiry) {
			return sigv4.Credential{}, sigv4.ErrExpiredCredential
		}
		return c, nil
	})}
	e.modes = map[string]int{}
	rec := authFunc(func(r *http.Request) (*sigv4.Result, error) {
		mode := r.Header.Get("X-Amz-Content-Sha256")
		if len(mode) == 64 {
			mode = "hex"
		}
		if r.URL.Query().Get("X-Amz-Signature") != "" {
			mode = "presigned"
		}
		e.mu.Lock()
		e.modes[mode]++
		e.mu.Unlock()
		return ver.Verify(r)
	})
	e.srv, err = New(Config{
		Authenticator: liveAuth{rec, ver}, Authorizer: e.authz, Buckets: e.bk, Backend: store, AccessLog: e.log,
		Domain: domain, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if useTLS {
		e.ts = httptest.NewTLSServer(e.srv)
	} else {
		e.ts = httptest.NewServer(e.srv)
	}
	t.Cleanup(e.ts.Close)
	return e
}

// sdk returns an aws-sdk-go-v2 S3 client for key. Virtual-hosted clients
// dial the test server whatever host name they compute.
func (e *liveEnv) sdk(t testing.TB, key string, virtualHost string) *s3.Client {
	t.Helper()
	c := testCreds[key]
	hc := e.ts.Client()
	endpoint := e.ts.URL
	if virtualHost != "" {
		tr := hc.Transport.(*http.Transport).Clone()
		addr := e.ts.Listener.Addr().String()
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
		hc = &http.Client{Transport: tr}
		u, _ := url.Parse(e.ts.URL)
		endpoint = u.Scheme + "://" + virtualHost + ":" + u.Port()
	}
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: awscreds.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretKey, c.SessionToken),
		HTTPClient:  hc,
		// config.LoadDefaultConfig's defaults: checksums whenever supported.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = virtualHost == ""
	})
}

func (e *liveEnv) minio(t *testing.T, key string) *minio.Client {
	t.Helper()
	c := testCreds[key]
	u, _ := url.Parse(e.ts.URL)
	mc, err := minio.New(u.Host, &minio.Options{
		Creds:        miniocreds.NewStaticV4(c.AccessKeyID, c.SecretKey, c.SessionToken),
		Secure:       u.Scheme == "https",
		Transport:    e.ts.Client().Transport,
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func randBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSDK(t *testing.T) {
	for _, mode := range []struct {
		name string
		tls  bool
	}{{"http", false}, {"tls", true}} {
		t.Run(mode.name, func(t *testing.T) {
			e := newLiveEnv(t, mode.tls, "")
			c := e.sdk(t, "AKIAALICE0000000", "")
			if mode.tls {
				sdkStreamingTrailer(t, c)
			}
			sdkOperations(t, e, c)
			// Over TLS the SDK sends UNSIGNED-PAYLOAD with a checksum header,
			// or aws-chunked with a trailing checksum for unseekable bodies;
			// over HTTP it signs the hex payload hash.
			want := []string{"hex"}
			if mode.tls {
				want = []string{"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}
			}
			for _, w := range want {
				if !e.seen(w) {
					t.Errorf("payload mode %s never used: %v", w, e.modes)
				}
			}
		})
	}
}

// sdkStreamingTrailer uploads unseekable bodies, which the SDK sends over
// TLS as aws-chunked with a trailing CRC32 checksum.
func sdkStreamingTrailer(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("trailer")}); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{0, 1, 64 << 10, 1<<20 + 17} {
		data := randBytes(t, size)
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trailer"), Key: aws.String("obj"),
			Body: struct{ io.Reader }{bytes.NewReader(data)}, ContentLength: aws.Int64(int64(size))})
		if err != nil {
			t.Fatalf("streaming PutObject %d: %v", size, err)
		}
		got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("trailer"), Key: aws.String("obj")})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(got.Body)
		got.Body.Close()
		if !bytes.Equal(b, data) || aws.ToString(got.ContentEncoding) != "" {
			t.Errorf("streamed %d bytes: got %d, encoding %q", size, len(b), aws.ToString(got.ContentEncoding))
		}
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("trailer"), Key: aws.String("obj")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("trailer")}); err != nil {
		t.Fatal(err)
	}
}

func sdkOperations(t *testing.T, e *liveEnv, c *s3.Client) {
	ctx := context.Background()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sdk-bucket")})
	must("CreateBucket", err)
	// In us-east-1 S3 answers re-creating your own bucket with 200.
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sdk-bucket")})
	must("CreateBucket twice", err)
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("sdk-bucket")})
	must("HeadBucket", err)
	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	must("ListBuckets", err)
	if len(lb.Buckets) != 1 || aws.ToString(lb.Buckets[0].Name) != "sdk-bucket" || lb.Buckets[0].CreationDate == nil {
		t.Errorf("ListBuckets %+v", lb.Buckets)
	}
	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("sdk-bucket")})
	must("GetBucketLocation", err)
	if loc.LocationConstraint != "" {
		t.Errorf("location %q", loc.LocationConstraint)
	}
	ver, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("sdk-bucket")})
	must("GetBucketVersioning", err)
	if ver.Status != "" {
		t.Errorf("versioning %q", ver.Status)
	}
	acl, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("sdk-bucket")})
	must("GetBucketAcl", err)
	if len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl || aws.ToString(acl.Owner.ID) != "org1" ||
		acl.Grants[0].Grantee == nil || acl.Grants[0].Grantee.Type != types.TypeCanonicalUser || aws.ToString(acl.Grants[0].Grantee.ID) != "org1" {
		t.Errorf("acl %+v", acl)
	}
	_, err = c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("sdk-bucket")})
	if apiCode(err) != "NotImplemented" {
		t.Errorf("GetBucketTagging: %v", err)
	}

	// PutObject / GetObject / HeadObject with metadata and odd keys.
	keys := []string{"plain", "a//b", "../x", "sp ace", "ü", "%2F", "dir/sub/file.txt", "q?x#y", "+plus"}
	for _, k := range keys {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String("sdk-bucket"), Key: aws.String(k), Body: strings.NewReader("body of " + k),
			ContentType: aws.String("text/plain"), Metadata: map[string]string{"origin": "sdk"},
			CacheControl: aws.String("no-store"),
		})
		must("PutObject "+k, err)
		got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String(k)})
		must("GetObject "+k, err)
		b, _ := io.ReadAll(got.Body)
		got.Body.Close()
		if string(b) != "body of "+k || aws.ToString(got.ContentType) != "text/plain" || got.Metadata["origin"] != "sdk" || aws.ToString(got.CacheControl) != "no-store" {
			t.Errorf("GetObject %q: %q %v %v", k, b, aws.ToString(got.ContentType), got.Metadata)
		}
	}
	big := randBytes(t, 300<<10)
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("big"), Body: bytes.NewReader(big)})
	must("PutObject big", err)
	sum := md5.Sum(big)
	if aws.ToString(put.ETag) != `"`+hexStr(sum[:])+`"` {
		t.Errorf("etag %s", aws.ToString(put.ETag))
	}
	rg, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("big"), Range: aws.String("bytes=-1000")})
	must("GetObject range", err)
	rb, _ := io.ReadAll(rg.Body)
	rg.Body.Close()
	if !bytes.Equal(rb, big[len(big)-1000:]) || aws.ToString(rg.ContentRange) != "bytes 306200-307199/307200" {
		t.Errorf("range: %d bytes, %s", len(rb), aws.ToString(rg.ContentRange))
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("big"), IfNoneMatch: put.ETag})
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != 304 {
		t.Errorf("If-None-Match: %v", err)
	}
	hd, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("big")})
	must("HeadObject", err)
	if aws.ToInt64(hd.ContentLength) != int64(len(big)) || hd.LastModified == nil {
		t.Errorf("head %+v", hd)
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("nope")})
	var nf *types.NotFound
	if !errors.As(err, &nf) {
		t.Errorf("HeadObject missing: %v", err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("nope")})
	var nsk *types.NoSuchKey
	if !errors.As(err, &nsk) {
		t.Errorf("GetObject missing: %v", err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("big"), Body: strings.NewReader("x"), IfNoneMatch: aws.String("*")})
	if apiCode(err) != "PreconditionFailed" {
		t.Errorf("conditional put: %v", err)
	}

	// Listings.
	var listed []string
	pg := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("sdk-bucket"), MaxKeys: aws.Int32(3)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		must("ListObjectsV2", err)
		for _, o := range page.Contents {
			listed = append(listed, aws.ToString(o.Key))
		}
	}
	want := append(slices.Clone(keys), "big")
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("listed %q\nwant %q", listed, want)
	}
	l2, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("sdk-bucket"), Delimiter: aws.String("/"), Prefix: aws.String("dir/")})
	must("ListObjectsV2 delimiter", err)
	if len(l2.CommonPrefixes) != 1 || aws.ToString(l2.CommonPrefixes[0].Prefix) != "dir/sub/" {
		t.Errorf("common prefixes %+v", l2.CommonPrefixes)
	}
	l1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("sdk-bucket"), Marker: aws.String("big")})
	must("ListObjects", err)
	if len(l1.Contents) != len(want)-slices.Index(want, "big")-1 {
		t.Errorf("v1 list %d", len(l1.Contents))
	}

	// Copy.
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("copy of sp ace"), CopySource: aws.String("sdk-bucket/" + url.PathEscape("sp ace"))})
	must("CopyObject", err)
	if cp.CopyObjectResult == nil || aws.ToString(cp.CopyObjectResult.ETag) == "" {
		t.Errorf("copy result %+v", cp.CopyObjectResult)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("plain"), CopySource: aws.String("sdk-bucket/plain"),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/replaced"), Metadata: map[string]string{"new": "1"}})
	must("CopyObject REPLACE onto itself", err)
	hd, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("plain")})
	must("HeadObject replaced", err)
	if aws.ToString(hd.ContentType) != "text/replaced" || hd.Metadata["new"] != "1" || hd.Metadata["origin"] != "" {
		t.Errorf("replaced metadata %v %v", aws.ToString(hd.ContentType), hd.Metadata)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("plain"), CopySource: aws.String("sdk-bucket/plain")})
	if apiCode(err) != "InvalidRequest" {
		t.Errorf("self copy: %v", err)
	}

	// Multipart.
	p1 := randBytes(t, 5<<20)
	p2 := []byte("the tail")
	mu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("multi part"), ContentType: aws.String("application/x-mp")})
	must("CreateMultipartUpload", err)
	u1, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("multi part"), UploadId: mu.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(p1)})
	must("UploadPart 1", err)
	u2, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("multi part"), UploadId: mu.UploadId, PartNumber: aws.Int32(2), Body: bytes.NewReader(p2)})
	must("UploadPart 2", err)
	u3, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("multi part"), UploadId: mu.UploadId, PartNumber: aws.Int32(3),
		CopySource: aws.String("sdk-bucket/big"), CopySourceRange: aws.String("bytes=0-99")})
	must("UploadPartCopy", err)
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("multi part"), UploadId: mu.UploadId})
	must("ListParts", err)
	if len(lp.Parts) != 3 || aws.ToInt64(lp.Parts[1].Size) != int64(len(p2)) {
		t.Errorf("ListParts %+v", lp.Parts)
	}
	lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("sdk-bucket")})
	must("ListMultipartUploads", err)
	if len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != aws.ToString(mu.UploadId) {
		t.Errorf("ListMultipartUploads %+v", lu.Uploads)
	}
	// Part 2 is too small to be followed by part 3.
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("multi part"), UploadId: mu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: u1.ETag}, {PartNumber: aws.Int32(2), ETag: u2.ETag}, {PartNumber: aws.Int32(3), ETag: u3.CopyPartResult.ETag}}}})
	if apiCode(err) != "EntityTooSmall" {
		t.Errorf("complete with small middle part: %v", err)
	}
	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("multi part"), UploadId: mu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: u1.ETag}, {PartNumber: aws.Int32(2), ETag: u2.ETag}}}})
	must("CompleteMultipartUpload", err)
	if !strings.HasSuffix(aws.ToString(done.ETag), `-2"`) {
		t.Errorf("multipart etag %s", aws.ToString(done.ETag))
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("multi part")})
	must("GetObject multipart", err)
	gb, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if !bytes.Equal(gb, append(slices.Clone(p1), p2...)) || aws.ToString(got.ContentType) != "application/x-mp" {
		t.Errorf("multipart object: %d bytes, %s", len(gb), aws.ToString(got.ContentType))
	}
	ab, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("aborted")})
	must("CreateMultipartUpload 2", err)
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("aborted"), UploadId: ab.UploadId})
	must("AbortMultipartUpload", err)
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("aborted"), UploadId: ab.UploadId})
	var nsu *types.NoSuchUpload
	if !errors.As(err, &nsu) && apiCode(err) != "NoSuchUpload" {
		t.Errorf("ListParts after abort: %v", err)
	}

	// Bucket policy.
	_, err = c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("sdk-bucket")})
	if apiCode(err) != "NoSuchBucketPolicy" {
		t.Errorf("GetBucketPolicy none: %v", err)
	}
	pol := `{"Version":"2012-10-17","Statement":[]}`
	_, err = c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("sdk-bucket"), Policy: aws.String(pol)})
	must("PutBucketPolicy", err)
	gp, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("sdk-bucket")})
	must("GetBucketPolicy", err)
	if aws.ToString(gp.Policy) != pol {
		t.Errorf("policy %q", aws.ToString(gp.Policy))
	}
	_, err = c.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("sdk-bucket")})
	must("DeleteBucketPolicy", err)

	// Delete everything, then the bucket.
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("sdk-bucket")})
	if apiCode(err) != "BucketNotEmpty" {
		t.Errorf("DeleteBucket non-empty: %v", err)
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("big")})
	must("DeleteObject", err)
	var ids []types.ObjectIdentifier
	pg = s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("sdk-bucket")})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		must("ListObjectsV2", err)
		for _, o := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
	}
	del, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("sdk-bucket"), Delete: &types.Delete{Objects: ids}})
	must("DeleteObjects", err)
	if len(del.Deleted) != len(ids) || len(del.Errors) != 0 {
		t.Errorf("DeleteObjects: %d deleted, errors %+v", len(del.Deleted), del.Errors)
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("sdk-bucket")})
	must("DeleteBucket", err)
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("sdk-bucket")})
	if !errors.As(err, &nf) {
		t.Errorf("HeadBucket after delete: %v", err)
	}
}

func hexStr(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestSDKPresigned(t *testing.T) {
	e := newLiveEnv(t, true, "")
	c := e.sdk(t, "AKIAALICE0000000", "")
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("pre")}); err != nil {
		t.Fatal(err)
	}
	ps := s3.NewPresignClient(c)
	key := "pre signed/ü.txt"
	preq, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pre"), Key: aws.String(key)}, s3.WithPresignExpires(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(preq.Method, preq.URL, strings.NewReader("presigned body"))
	for k, vs := range preq.SignedHeader {
		if !strings.EqualFold(k, "host") {
			req.Header[k] = vs
		}
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("presigned PUT: %d %s", resp.StatusCode, body)
	}
	greq, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("pre"), Key: aws.String(key), ResponseContentType: aws.String("text/x-override")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = e.ts.Client().Get(greq.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "presigned body" || resp.Header.Get("Content-Type") != "text/x-override" {
		t.Errorf("presigned GET: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
	// A tampered presigned URL is refused with S3's code.
	resp, err = e.ts.Client().Get(strings.Replace(greq.URL, "ResponseContentType", "x", 1) + "&x=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !bytes.Contains(body, []byte("<Code>SignatureDoesNotMatch</Code>")) {
		t.Errorf("tampered presigned GET: %d %s", resp.StatusCode, body)
	}
	if ev := e.log.last(); ev.Decision != "Deny" || ev.ErrorCode != "SignatureDoesNotMatch" || ev.OrgID != "" {
		t.Errorf("tampered event %+v", ev)
	}
	// Past X-Amz-Expires the URL is refused.
	short, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("pre"), Key: aws.String(key)}, s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	e.advance(2 * time.Minute)
	resp, err = e.ts.Client().Get(short.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !bytes.Contains(body, []byte("<Code>AccessDenied</Code>")) {
		t.Errorf("expired presigned GET: %d %s", resp.StatusCode, body)
	}
	// A URL signed with a credential that has since expired: ExpiredToken.
	carol := e.sdk(t, "AKIACAROL0000000", "")
	long, err := s3.NewPresignClient(carol).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("pre"), Key: aws.String(key)}, s3.WithPresignExpires(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	e.advance(2 * time.Hour)
	resp, err = e.ts.Client().Get(long.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !bytes.Contains(body, []byte("<Code>ExpiredToken</Code>")) {
		t.Errorf("presigned GET with expired credential: %d %s", resp.StatusCode, body)
	}
}

func TestSDKAccessDeniedAndAudit(t *testing.T) {
	e := newLiveEnv(t, false, "")
	alice := e.sdk(t, "AKIAALICE0000000", "")
	bobc := e.sdk(t, "AKIABOB000000000", "")
	ctx := context.Background()
	if _, err := alice.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("private")}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("private"), Key: aws.String("secret"), Body: strings.NewReader("s")}); err != nil {
		t.Fatal(err)
	}
	_, err := bobc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("private"), Key: aws.String("secret")})
	if apiCode(err) != "AccessDenied" {
		t.Errorf("bob GetObject: %v", err)
	}
	ev := e.log.last()
	if ev.OrgID != "org2" || ev.PrincipalName != "oidc/bob" || ev.AccessKeyID != "AKIABOB000000000" || ev.Action != "s3:GetObject" || ev.Resource != "private/secret" || ev.Decision != "Deny" || ev.Status != 403 || ev.SourceIP != "127.0.0.1" {
		t.Errorf("deny event %+v", ev)
	}
	lb, err := bobc.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(lb.Buckets) != 0 {
		t.Errorf("bob sees buckets: %v %v", lb, err)
	}
	_, err = bobc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("private")})
	var exists *types.BucketAlreadyExists
	if !errors.As(err, &exists) {
		t.Errorf("bob CreateBucket taken name: %v", err)
	}
	e.authz.deny["s3:PutBucketPolicy"] = true
	_, err = alice.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("private"), Policy: aws.String(`{}`)})
	if apiCode(err) != "AccessDenied" || !strings.Contains(err.Error(), "org-policy/deny-PutBucketPolicy") {
		t.Errorf("denied PutBucketPolicy: %v", err)
	}
	// Unknown key.
	cfgBad := aws.Config{Region: "us-east-1", Credentials: awscreds.NewStaticCredentialsProvider("AKIAGONE00000000", "x", ""), HTTPClient: e.ts.Client()}
	gone := s3.NewFromConfig(cfgBad, func(o *s3.Options) { o.BaseEndpoint = aws.String(e.ts.URL); o.UsePathStyle = true })
	_, err = gone.ListBuckets(ctx, &s3.ListBucketsInput{})
	if apiCode(err) != "InvalidAccessKeyId" {
		t.Errorf("unknown key: %v", err)
	}
	// Wrong secret.
	cfgBad.Credentials = awscreds.NewStaticCredentialsProvider("AKIABOB000000000", "wrong", "")
	wrong := s3.NewFromConfig(cfgBad, func(o *s3.Options) { o.BaseEndpoint = aws.String(e.ts.URL); o.UsePathStyle = true })
	_, err = wrong.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("private"), Key: aws.String("x"), Body: strings.NewReader("x")})
	if apiCode(err) != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v", err)
	}
}

func TestSDKVirtualHosted(t *testing.T) {
	e := newLiveEnv(t, false, "s3.local.test")
	c := e.sdk(t, "AKIAALICE0000000", "s3.local.test")
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vhost")}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a//b", "../x", "sp ace", "ü"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vhost"), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
		got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("get %q: %v", k, err)
		}
		b, _ := io.ReadAll(got.Body)
		got.Body.Close()
		if string(b) != k {
			t.Errorf("vhost %q: %q", k, b)
		}
	}
	l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("vhost")})
	if err != nil || len(l.Contents) != 4 {
		t.Errorf("vhost list %v %v", l, err)
	}
	// The same bucket path-style on the same server.
	p := e.sdk(t, "AKIAALICE0000000", "")
	if _, err := p.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("vhost"), Key: aws.String("a//b")}); err != nil {
		t.Errorf("path-style head: %v", err)
	}
}

func TestMinio(t *testing.T) {
	for _, mode := range []struct {
		name string
		tls  bool
	}{{"http", false}, {"tls", true}} {
		t.Run(mode.name, func(t *testing.T) {
			e := newLiveEnv(t, mode.tls, "")
			mc := e.minio(t, "AKIAALICE0000000")
			ctx := context.Background()
			if err := mc.MakeBucket(ctx, "mbucket", minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
				t.Fatal(err)
			}
			ok, err := mc.BucketExists(ctx, "mbucket")
			if err != nil || !ok {
				t.Fatalf("BucketExists %v %v", ok, err)
			}
			small := []byte("small object")
			if _, err := mc.PutObject(ctx, "mbucket", "small/a b", bytes.NewReader(small), int64(len(small)), minio.PutObjectOptions{ContentType: "text/plain", UserMetadata: map[string]string{"x": "y"}}); err != nil {
				t.Fatalf("PutObject small: %v", err)
			}
			// Unknown length: minio streams multipart.
			big := randBytes(t, 11<<20)
			info, err := mc.PutObject(ctx, "mbucket", "big", bytes.NewReader(big), int64(len(big)), minio.PutObjectOptions{PartSize: 5 << 20})
			if err != nil {
				t.Fatalf("PutObject multipart: %v", err)
			}
			if !strings.HasSuffix(info.ETag, "-3") {
				t.Errorf("multipart etag %q", info.ETag)
			}
			for k, want := range map[string][]byte{"small/a b": small, "big": big} {
				obj, err := mc.GetObject(ctx, "mbucket", k, minio.GetObjectOptions{})
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(obj)
				obj.Close()
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("GetObject %q: %d bytes, %v", k, len(got), err)
				}
			}
			st, err := mc.StatObject(ctx, "mbucket", "small/a b", minio.StatObjectOptions{})
			if err != nil || st.ContentType != "text/plain" || st.UserMetadata["X"] != "y" {
				t.Errorf("StatObject %+v %v", st, err)
			}
			if _, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: "mbucket", Object: "copy"}, minio.CopySrcOptions{Bucket: "mbucket", Object: "small/a b"}); err != nil {
				t.Errorf("CopyObject: %v", err)
			}
			var n int
			for o := range mc.ListObjects(ctx, "mbucket", minio.ListObjectsOptions{Recursive: true}) {
				if o.Err != nil {
					t.Fatal(o.Err)
				}
				n++
			}
			if n != 3 {
				t.Errorf("listed %d", n)
			}
			objs := make(chan minio.ObjectInfo, 3)
			for _, k := range []string{"small/a b", "big", "copy"} {
				objs <- minio.ObjectInfo{Key: k}
			}
			close(objs)
			for re := range mc.RemoveObjects(ctx, "mbucket", objs, minio.RemoveObjectsOptions{}) {
				t.Errorf("RemoveObjects: %v", re.Err)
			}
			if err := mc.RemoveBucket(ctx, "mbucket"); err != nil {
				t.Errorf("RemoveBucket: %v", err)
			}
			// minio-go signs aws-chunked streams over plain HTTP.
			if !mode.tls && !e.seen("STREAMING-AWS4-HMAC-SHA256-PAYLOAD") {
				t.Errorf("minio-go never streamed signed aws-chunked: %v", e.modes)
			}
		})
	}
}

// TestSDKTamperedBody checks an SDK-signed request whose body is changed in
// flight is refused and nothing is stored.
func TestSDKTamperedBody(t *testing.T) {
	e := newLiveEnv(t, false, "")
	ctx := context.Background()
	c := e.sdk(t, "AKIAALICE0000000", "")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("tamper")}); err != nil {
		t.Fatal(err)
	}
	base := e.ts.Client().Transport
	tampering := &http.Client{}
	tampering.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPut && r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			if len(b) > 0 {
				b[0] ^= 1
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		return base.RoundTrip(r)
	})
	cfg := aws.Config{Region: "us-east-1", HTTPClient: tampering,
		Credentials: awscreds.NewStaticCredentialsProvider("AKIAALICE0000000", testCreds["AKIAALICE0000000"].SecretKey, testCreds["AKIAALICE0000000"].SessionToken)}
	tc := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(e.ts.URL)
		o.UsePathStyle = true
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	_, err := tc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tamper"), Key: aws.String("k"), Body: strings.NewReader("original body")})
	if code := apiCode(err); code != "XAmzContentSHA256Mismatch" && code != "BadDigest" && code != "SignatureDoesNotMatch" {
		t.Errorf("tampered body: %v", err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("tamper"), Key: aws.String("k")}); err == nil {
		t.Errorf("tampered object stored")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestSDKConcurrent runs PUT, GET, list and delete from several goroutines
// (run it with -race): request state must not leak between requests.
func TestSDKConcurrent(t *testing.T) {
	e := newLiveEnv(t, false, "")
	c := e.sdk(t, "AKIAALICE0000000", "")
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("conc")}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				key := "w" + string(rune('a'+w)) + "/" + string(rune('0'+i))
				data := []byte(key + strings.Repeat("!", w*100+i))
				if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("conc"), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
					t.Error(err)
					return
				}
				got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("conc"), Key: aws.String(key)})
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(got.Body)
				got.Body.Close()
				if !bytes.Equal(b, data) {
					t.Errorf("%s: got %q", key, b)
				}
				if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("conc"), Prefix: aws.String("w" + string(rune('a'+w)) + "/")}); err != nil {
					t.Error(err)
				}
				if i%2 == 0 {
					if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("conc"), Key: aws.String(key)}); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("conc")})
	if err != nil || len(l.Contents) != 40 {
		t.Errorf("left %d objects, %v", len(l.Contents), err)
	}
	// One event per request, each with its own request id.
	seen := map[string]bool{}
	for _, ev := range e.log.events() {
		if seen[ev.RequestID] {
			t.Errorf("request id %s logged twice", ev.RequestID)
		}
		seen[ev.RequestID] = true
	}
}
