package sigv4

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
)

// liveSource is testSource with expiry relative to the real clock: SDK clients sign with
// time.Now.
type liveSource struct{}

func (liveSource) Credential(ctx context.Context, id string) (Credential, error) {
	c, err := testSource{}.Credential(ctx, id)
	if err == nil && !c.Expiry.IsZero() {
		c.Expiry = time.Now().Add(time.Hour)
	}
	return c, err
}

// seen is what the test server observed about one request.
type seen struct {
	payloadMode string // x-amz-content-sha256 or "presigned"
	streaming   bool
	trailer     string
	checksumHdr string
	body        []byte
	err         error
}

// s3Stub is a minimal S3 endpoint whose only logic is Verify: it stores PUT bodies read
// through Result.Body and serves them back, and answers errors in S3's XML shape.
type s3Stub struct {
	v       *Verifier
	mu      sync.Mutex
	objects map[string][]byte
	log     []seen
}

func newS3Stub() *s3Stub {
	return &s3Stub{
		v:       &Verifier{Region: testRegion, Service: testService, Source: liveSource{}},
		objects: map[string][]byte{},
	}
}

func (s *s3Stub) last() seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.log) == 0 {
		return seen{}
	}
	return s.log[len(s.log)-1]
}

func writeS3Error(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: "InternalError", Status: 500, Message: err.Error()}
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(e.Status)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>", e.Code, e.Message)
}

func (s *s3Stub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := seen{
		payloadMode: r.Header.Get("X-Amz-Content-Sha256"),
		trailer:     r.Header.Get("X-Amz-Trailer"),
	}
	for k := range r.Header {
		if _, isValue := lookupChecksum(k); isValue {
			rec.checksumHdr = strings.ToLower(k)
		}
	}
	res, err := s.v.Verify(r)
	if err == nil {
		rec.streaming = res.Streaming
		if res.Presigned {
			rec.payloadMode = "presigned"
		}
		rec.body, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	rec.err = err
	s.mu.Lock()
	s.log = append(s.log, rec)
	s.mu.Unlock()
	if err != nil {
		writeS3Error(w, err)
		return
	}
	key := r.URL.Path
	switch r.Method {
	case http.MethodPut:
		s.mu.Lock()
		s.objects[key] = rec.body
		s.mu.Unlock()
		sum := md5.Sum(rec.body)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	case http.MethodGet, http.MethodHead:
		if r.URL.Query().Has("list-type") {
			w.Header().Set("Content-Type", "application/xml")
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`)
			return
		}
		s.mu.Lock()
		obj, ok := s.objects[key]
		s.mu.Unlock()
		if !ok {
			writeS3Error(w, &Error{Code: "NoSuchKey", Status: 404, Message: "no such key"})
			return
		}
		sum := md5.Sum(obj)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
		w.Header().Set("Content-Length", fmt.Sprint(len(obj)))
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		if r.Method == http.MethodGet {
			w.Write(obj)
		}
	case http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	}
}

// tamperTransport lets a test alter requests after the client signed them.
type tamperTransport struct {
	base   http.RoundTripper
	mu     sync.Mutex
	tamper func(*http.Request)
}

func (t *tamperTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	f := t.tamper
	t.mu.Unlock()
	if f != nil {
		r = r.Clone(r.Context())
		f(r)
	}
	return t.base.RoundTrip(r)
}

func (t *tamperTransport) set(f func(*http.Request)) {
	t.mu.Lock()
	t.tamper = f
	t.mu.Unlock()
}

// flipReader flips one bit of the byte at offset at.
type flipReader struct {
	r   io.Reader
	off int
	at  int
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.at >= f.off && f.at < f.off+n {
		p[f.at-f.off] ^= 1
	}
	f.off += n
	return n, err
}

func (f *flipReader) Close() error { return nil }

func sdkClient(t *testing.T, srv *httptest.Server, ak string, tt *tamperTransport) *s3.Client {
	t.Helper()
	t.Setenv("AWS_CA_BUNDLE", "")
	c := creds(ak)
	hc := srv.Client()
	tt.base = hc.Transport
	hc.Transport = tt
	cfg := aws.Config{
		Region:           testRegion,
		Credentials:      credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
		HTTPClient:       hc,
		RetryMaxAttempts: 1,
		// What config.LoadDefaultConfig defaults to; an aws.Config literal leaves it unset.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.UsePathStyle = true
	})
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "non-API error: " + err.Error()
	}
	return ""
}

// TestAWSSDK drives aws-sdk-go-v2's S3 client (its own signing and checksum middleware)
// against a server whose handler calls Verify: over plain HTTP the SDK sends a hex payload
// hash plus an x-amz-checksum-* header; over TLS it streams STREAMING-UNSIGNED-PAYLOAD-TRAILER
// with a checksum trailer.
func TestAWSSDK(t *testing.T) {
	for _, tls := range []bool{false, true} {
		name := "http"
		if tls {
			name = "tls"
		}
		t.Run(name, func(t *testing.T) {
			stub := newS3Stub()
			var srv *httptest.Server
			if tls {
				srv = httptest.NewTLSServer(stub)
			} else {
				srv = httptest.NewServer(stub)
			}
			defer srv.Close()
			tt := &tamperTransport{}
			client := sdkClient(t, srv, testAK, tt)
			ctx := context.Background()
			data := testData(300 << 10)

			keys := []string{"plain.txt", "dir/a b+c~!$'()*,;=:@&ü.txt", "a//b/../c/./d", "100%.bin", "ends-with-slash/"}
			for _, key := range keys {
				_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key), Body: bytes.NewReader(data)})
				if err != nil {
					t.Fatalf("PutObject %q: %v (last: %+v)", key, err, stub.last().err)
				}
				got := stub.last()
				if !bytes.Equal(got.body, data) {
					t.Fatalf("PutObject %q stored %d bytes", key, len(got.body))
				}
				if tls {
					if got.payloadMode != StreamingUnsignedTrailer || !got.streaming || got.trailer != "x-amz-checksum-crc32" {
						t.Fatalf("TLS PutObject mode %q streaming=%v trailer=%q", got.payloadMode, got.streaming, got.trailer)
					}
				} else if !isHexSHA256(got.payloadMode) || got.checksumHdr != "x-amz-checksum-crc32" {
					t.Fatalf("HTTP PutObject mode %q checksum header %q", got.payloadMode, got.checksumHdr)
				}
				out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key)})
				if err != nil {
					t.Fatalf("GetObject %q: %v", key, err)
				}
				b, _ := io.ReadAll(out.Body)
				out.Body.Close()
				if !bytes.Equal(b, data) {
					t.Fatalf("GetObject %q returned %d bytes", key, len(b))
				}
			}

			for _, algo := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmCrc64nvme} {
				_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String("algo"), Body: bytes.NewReader(data), ChecksumAlgorithm: algo})
				if err != nil {
					t.Fatalf("PutObject with %s: %v", algo, err)
				}
				want := "x-amz-checksum-" + strings.ToLower(string(algo))
				got := stub.last()
				if tls && got.trailer != want || !tls && got.checksumHdr != want {
					t.Fatalf("%s: trailer %q header %q", algo, got.trailer, got.checksumHdr)
				}
			}

			_, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bucket"), Prefix: aws.String("dir/a b+c"), Delimiter: aws.String("/"), StartAfter: aws.String("é&=?")})
			if err != nil {
				t.Fatalf("ListObjectsV2: %v", err)
			}

			// Session token credentials.
			tokClient := sdkClient(t, srv, tokenAK, &tamperTransport{})
			if _, err := tokClient.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String("tok"), Body: strings.NewReader("x")}); err != nil {
				t.Fatalf("PutObject with session token: %v", err)
			}

			// Presigned GET and PUT, used with a plain HTTP client.
			pc := s3.NewPresignClient(client)
			pput, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String("pre signed/ü")}, s3.WithPresignExpires(5*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodPut, pput.URL, bytes.NewReader(data[:1000]))
			for k, v := range pput.SignedHeader {
				if !strings.EqualFold(k, "Host") {
					req.Header[k] = v
				}
			}
			resp, err := srv.Client().Do(req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("presigned PUT: %v %v (%v)", err, resp.Status, stub.last().err)
			}
			resp.Body.Close()
			pget, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("pre signed/ü"), ResponseContentType: aws.String("text/plain; charset=utf-8")})
			if err != nil {
				t.Fatal(err)
			}
			resp, err = srv.Client().Get(pget.URL)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Equal(b, data[:1000]) || stub.last().payloadMode != "presigned" {
				t.Fatalf("presigned GET: %s %d bytes (%v)", resp.Status, len(b), stub.last().err)
			}
			u, _ := url.Parse(pget.URL)
			q := u.Query()
			q.Set("response-content-type", "text/html")
			u.RawQuery = q.Encode()
			resp, err = srv.Client().Get(u.String())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 403 || stub.last().err == nil {
				t.Fatalf("tampered presigned GET answered %s", resp.Status)
			}

			// Tampering after signing.
			put := func() error {
				_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String("t"), Body: bytes.NewReader(data)})
				return err
			}
			negative := []struct {
				name   string
				tamper func(*http.Request)
				code   string
			}{
				{"unsigned x-amz header", func(r *http.Request) { r.Header.Set("X-Amz-Meta-Injected", "1") }, CodeAccessDenied},
				{"signed header changed", func(r *http.Request) {
					r.Header.Set("X-Amz-Date", time.Now().UTC().Add(time.Second).Format(amzDateLayout))
				}, CodeSignatureDoesNotMatch},
				{"body byte flipped", func(r *http.Request) { r.Body = &flipReader{r: r.Body, at: 5000} },
					map[bool]string{false: CodeXAmzContentSHA256Mismatch, true: CodeBadDigest}[tls]},
				{"path changed", func(r *http.Request) { r.URL.Path = "/bucket/u"; r.URL.RawPath = "" }, CodeSignatureDoesNotMatch},
			}
			for _, n := range negative {
				tt.set(n.tamper)
				err := put()
				tt.set(nil)
				if got := apiCode(err); got != n.code {
					t.Errorf("%s: got %q, want %s", n.name, got, n.code)
				}
			}
		})
	}
}

// TestMinioGo drives minio-go v7, which sends STREAMING-AWS4-HMAC-SHA256-PAYLOAD over HTTP,
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER over HTTP when a checksum is requested with
// TrailingHeaders, and STREAMING-UNSIGNED-PAYLOAD-TRAILER over TLS with TrailingHeaders.
func TestMinioGo(t *testing.T) {
	cases := []struct {
		name     string
		tls      bool
		trailers bool
		checksum minio.ChecksumType
		mode     string
	}{
		{"http signed chunks", false, false, 0, StreamingPayload},
		{"http signed trailer", false, true, minio.ChecksumCRC32C, StreamingPayloadTrailer},
		{"http signed trailer crc64nvme", false, true, minio.ChecksumCRC64NVME, StreamingPayloadTrailer},
		{"tls auto checksum", true, true, 0, UnsignedPayload},
		{"tls unsigned trailer sha256", true, true, minio.ChecksumSHA256, StreamingUnsignedTrailer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stub := newS3Stub()
			var srv *httptest.Server
			if tc.tls {
				srv = httptest.NewTLSServer(stub)
			} else {
				srv = httptest.NewServer(stub)
			}
			defer srv.Close()
			tt := &tamperTransport{base: srv.Client().Transport}
			u, _ := url.Parse(srv.URL)
			mc, err := minio.New(u.Host, &minio.Options{
				Creds:           miniocreds.NewStaticV4(testAK, testSK, ""),
				Secure:          tc.tls,
				Region:          testRegion,
				Transport:       tt,
				TrailingHeaders: tc.trailers,
				MaxRetries:      1,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			data := testData(200<<10 + 17)
			put := func(key string) error {
				_, err := mc.PutObject(ctx, "bucket", key, bytes.NewReader(data), int64(len(data)),
					minio.PutObjectOptions{Checksum: tc.checksum, UserMetadata: map[string]string{"note": "a  b"}})
				return err
			}
			for _, key := range []string{"k", "dir/sp ace+plus/ü~!.bin"} {
				if err := put(key); err != nil {
					t.Fatalf("PutObject %q: %v (%v)", key, err, stub.last().err)
				}
				got := stub.last()
				if got.payloadMode != tc.mode || got.streaming != (tc.mode != UnsignedPayload) || !bytes.Equal(got.body, data) {
					t.Fatalf("mode %q (want %q) streaming=%v checksum header %q trailer %q, %d bytes", got.payloadMode, tc.mode, got.streaming, got.checksumHdr, got.trailer, len(got.body))
				}
				obj, err := mc.GetObject(ctx, "bucket", key, minio.GetObjectOptions{})
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(obj)
				if err != nil || !bytes.Equal(b, data) {
					t.Fatalf("GetObject: %v, %d bytes", err, len(b))
				}
			}
			if tc.mode == UnsignedPayload {
				// minio-go sends x-amz-checksum-algorithm but no checksum value in this mode:
				// the body carries nothing to verify (TLS protects it in transit).
				return
			}
			// Flip one byte in the middle of the second chunk's data: a chunk signature or the
			// trailer checksum must catch it.
			tt.set(func(r *http.Request) { r.Body = &flipReader{r: r.Body, at: 64<<10 + 300} })
			err = put("bad")
			tt.set(nil)
			if err == nil {
				t.Fatal("tampered streaming body accepted")
			}
			var me minio.ErrorResponse
			if errors.As(err, &me) {
				want := CodeSignatureDoesNotMatch
				if tc.mode == StreamingUnsignedTrailer {
					want = CodeBadDigest
				}
				if me.Code != want {
					t.Fatalf("tampered body: code %s, want %s", me.Code, want)
				}
			} else {
				t.Fatalf("tampered body: %v", err)
			}
		})
	}
}
