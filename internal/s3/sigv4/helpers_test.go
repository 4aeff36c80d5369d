package sigv4

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/s3fed/s3fed/internal/identity"
)

const (
	testAK      = "AKIDTESTEXAMPLE01"
	testSK      = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	tokenAK     = "AKIDTOKENEXAMPLE02"
	tokenSK     = "token/secret/key+with/slashes"
	testToken   = "session-token-value-123"
	expiredAK   = "AKIDEXPIREDEXAMPLE"
	expiringAK  = "AKIDEXPIRINGSOON01"
	brokenAK    = "AKIDSTOREBROKEN001"
	testRegion  = "us-east-1"
	testService = "s3"
)

var testNow = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)

var testIdentity = identity.Identity{OrgID: "org1", PrincipalName: "saml/alice@example.com", Role: "reader"}

// testSource is a fixed credential store.
type testSource struct{}

func (testSource) Credential(_ context.Context, id string) (Credential, error) {
	switch id {
	case testAK:
		return Credential{AccessKeyID: testAK, SecretKey: testSK, Identity: testIdentity}, nil
	case tokenAK:
		return Credential{AccessKeyID: tokenAK, SecretKey: tokenSK, SessionToken: testToken, Expiry: testNow.Add(time.Hour), Identity: testIdentity}, nil
	case expiredAK:
		return Credential{}, fmt.Errorf("lookup %s: %w", id, ErrExpiredCredential)
	case expiringAK:
		return Credential{AccessKeyID: expiringAK, SecretKey: testSK, Expiry: testNow.Add(-time.Second)}, nil
	case brokenAK:
		return Credential{}, errors.New("database is down")
	}
	return Credential{}, fmt.Errorf("lookup %s: %w", id, ErrUnknownAccessKey)
}

func testVerifier() *Verifier {
	return &Verifier{Region: testRegion, Service: testService, Source: testSource{}, Now: func() time.Time { return testNow }}
}

func creds(ak string) aws.Credentials {
	switch ak {
	case tokenAK:
		return aws.Credentials{AccessKeyID: tokenAK, SecretAccessKey: tokenSK, SessionToken: testToken}
	}
	return aws.Credentials{AccessKeyID: ak, SecretAccessKey: testSK}
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// signSpec describes a request signed in the Authorization header by aws-sdk-go-v2's signer.
type signSpec struct {
	method  string
	target  string // path and query as sent
	body    []byte
	headers map[string]string
	payload string // x-amz-content-sha256; "" = hex of body; "-" = header omitted (hash of body signed)
	creds   aws.Credentials
	region  string
	service string
	when    time.Time
}

func (s signSpec) build(t testing.TB) *http.Request {
	t.Helper()
	if s.method == "" {
		s.method = http.MethodGet
	}
	if s.target == "" {
		s.target = "/bucket/key"
	}
	if s.creds.AccessKeyID == "" {
		s.creds = creds(testAK)
	}
	if s.region == "" {
		s.region = testRegion
	}
	if s.service == "" {
		s.service = testService
	}
	if s.when.IsZero() {
		s.when = testNow
	}
	var body io.Reader
	if s.body != nil {
		body = bytes.NewReader(s.body)
	}
	r := httptest.NewRequest(s.method, s.target, body)
	r.Host = "s3.example.test:9000"
	for k, v := range s.headers {
		r.Header.Set(k, v)
	}
	payload := s.payload
	switch payload {
	case "":
		payload = hexSHA(s.body)
		r.Header.Set("X-Amz-Content-Sha256", payload)
	case "-":
		payload = hexSHA(s.body)
	default:
		r.Header.Set("X-Amz-Content-Sha256", payload)
	}
	err := v4.NewSigner().SignHTTP(context.Background(), s.creds, r, payload, s.service, s.region, s.when,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return r
}

// presignSpec describes a presigned URL made by aws-sdk-go-v2's signer.
type presignSpec struct {
	method  string
	target  string
	expires int
	// expiresRaw, when set, is sent as X-Amz-Expires instead of expires
	// (values a well-behaved presigner never makes: "0", "-7").
	expiresRaw string
	creds      aws.Credentials
	region     string
	when       time.Time
	headers    map[string]string
	body       []byte
}

func (p presignSpec) build(t testing.TB) *http.Request {
	t.Helper()
	if p.method == "" {
		p.method = http.MethodGet
	}
	if p.target == "" {
		p.target = "/bucket/key"
	}
	if p.creds.AccessKeyID == "" {
		p.creds = creds(testAK)
	}
	if p.region == "" {
		p.region = testRegion
	}
	if p.when.IsZero() {
		p.when = testNow
	}
	if p.expires == 0 {
		p.expires = 900
	}
	u, err := url.Parse("http://s3.example.test:9000" + p.target)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("X-Amz-Expires", strconv.Itoa(p.expires))
	if p.expiresRaw != "" {
		q.Set("X-Amz-Expires", p.expiresRaw)
	}
	u.RawQuery = q.Encode()
	r, err := http.NewRequest(p.method, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range p.headers {
		r.Header.Set(k, v)
	}
	signed, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), p.creds, r, UnsignedPayload, testService, p.region, p.when,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatalf("presign: %v", err)
	}
	su, err := url.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	var body io.Reader
	if p.body != nil {
		body = bytes.NewReader(p.body)
	}
	sr := httptest.NewRequest(p.method, su.RequestURI(), body)
	sr.Host = "s3.example.test:9000"
	for k, v := range hdr {
		if strings.EqualFold(k, "Host") {
			continue
		}
		sr.Header[k] = v
	}
	return sr
}

// wantCode asserts err is an *Error with the code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *Error %s, got %v", code, err)
	}
	if e.Code != code {
		t.Fatalf("want code %s, got %s (%v)", code, e.Code, e)
	}
	if e.Status != codeStatus[code] {
		t.Fatalf("code %s has status %d, want %d", code, e.Status, codeStatus[code])
	}
}

// readAll reads a verified body and returns what it read and the terminating error (nil
// for clean EOF).
func readAll(b io.Reader) ([]byte, error) {
	var out bytes.Buffer
	buf := make([]byte, 1000)
	for {
		n, err := b.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			return out.Bytes(), err
		}
	}
}

// chunkSpec builds an aws-chunked body the way AWS documents it, independently of the
// verifier, so framing can be varied in tests.
type chunkSpec struct {
	data      []byte
	sizes     []int // chunk sizes; remainder goes in a last chunk
	signed    bool
	trailer   string // e.g. "x-amz-checksum-crc32"; "" = none
	trailerV  string // trailer value; "" = computed
	mode      string // x-amz-content-sha256 value
	key       [32]byte
	seed      string
	amzDate   string
	scope     string
	tamperSig int // if >0, corrupt the signature of chunk n (1-based)
}

func chunkSig(key [32]byte, amzDate, scope, prev string, data []byte) string {
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + amzDate + "\n" + scope + "\n" + prev + "\n" + emptySHA256Hex + "\n" + hexSHA(data)
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(sts))
	return hex.EncodeToString(m.Sum(nil))
}

func trailerSig(key [32]byte, amzDate, scope, prev, trailers string) string {
	sts := "AWS4-HMAC-SHA256-TRAILER\n" + amzDate + "\n" + scope + "\n" + prev + "\n" + hexSHA([]byte(trailers))
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(sts))
	return hex.EncodeToString(m.Sum(nil))
}

func (c chunkSpec) encode() []byte {
	var out bytes.Buffer
	prev := c.seed
	data := c.data
	var chunks [][]byte
	for _, s := range c.sizes {
		if s > len(data) {
			s = len(data)
		}
		chunks = append(chunks, data[:s])
		data = data[s:]
	}
	if len(data) > 0 {
		chunks = append(chunks, data)
	}
	chunks = append(chunks, nil)
	for i, ch := range chunks {
		if c.signed {
			sig := chunkSig(c.key, c.amzDate, c.scope, prev, ch)
			prev = sig
			if c.tamperSig == i+1 {
				sig = strings.Repeat("0", 64)
			}
			fmt.Fprintf(&out, "%x;chunk-signature=%s\r\n", len(ch), sig)
		} else {
			fmt.Fprintf(&out, "%x\r\n", len(ch))
		}
		if len(ch) > 0 {
			out.Write(ch)
			out.WriteString("\r\n")
		}
	}
	if c.trailer == "" {
		out.WriteString("\r\n")
		return out.Bytes()
	}
	v := c.trailerV
	if v == "" {
		algo, _ := lookupChecksum(c.trailer)
		h := algo.new()
		h.Write(c.data)
		v = b64(h.Sum(nil))
	}
	out.WriteString(c.trailer + ":" + v + "\r\n")
	if c.mode == StreamingPayloadTrailer {
		out.WriteString("x-amz-trailer-signature:" + trailerSig(c.key, c.amzDate, c.scope, prev, c.trailer+":"+v+"\n") + "\r\n")
	}
	out.WriteString("\r\n")
	return out.Bytes()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// refSigningKey derives a signing key with crypto/hmac, independently of hmacSHA256.
func refSigningKey(secret, date, region, service string) [32]byte {
	k := []byte("AWS4" + secret)
	for _, m := range []string{date, region, service, "aws4_request"} {
		h := hmac.New(sha256.New, k)
		h.Write([]byte(m))
		k = h.Sum(nil)
	}
	var out [32]byte
	copy(out[:], k)
	return out
}

// streamingReq signs an aws-chunked PUT whose seed signature comes from aws-sdk-go-v2's
// signer and whose body is produced by chunkSpec.encode. mutate, if set, may alter the
// encoded body before it is attached.
func streamingReq(t testing.TB, c chunkSpec, mutate func([]byte) []byte) *http.Request {
	t.Helper()
	date := testNow.Format("20060102")
	c.amzDate = testNow.Format(amzDateLayout)
	c.scope = date + "/" + testRegion + "/" + testService + "/aws4_request"
	c.key = refSigningKey(testSK, date, testRegion, testService)
	c.signed = c.mode != StreamingUnsignedTrailer
	c.seed = strings.Repeat("0", 64)
	body0 := c.encode()
	r := httptest.NewRequest(http.MethodPut, "/bucket/key", bytes.NewReader(body0))
	r.Host = "s3.example.test:9000"
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(c.data)))
	if c.trailer != "" {
		r.Header.Set("X-Amz-Trailer", c.trailer)
	}
	r.Header.Set("X-Amz-Content-Sha256", c.mode)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds(testAK), r, c.mode, testService, testRegion, testNow,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }); err != nil {
		t.Fatal(err)
	}
	authz := r.Header.Get("Authorization")
	c.seed = authz[strings.LastIndex(authz, "=")+1:]
	body := c.encode()
	if mutate != nil {
		body = mutate(body)
	}
	// ContentLength stays what was signed; a mutated body of another length is what a
	// tampering proxy would send.
	r.Body = io.NopCloser(bytes.NewReader(body))
	return r
}
