// Package sigv4 verifies AWS Signature Version 4 on incoming S3 (and STS) requests: the
// Authorization header, presigned query strings, and aws-chunked streaming payloads with
// chained chunk signatures, trailers and checksums.
//
// No maintained server-side SigV4 library exists (aws-sdk-go-v2's signer is for clients), so
// this package implements the specification directly. Its one entry point, Verifier.Verify,
// returns a Result whose Body is the only way to read the payload afterwards: that reader
// yields io.EOF only when every digest and signature over the payload matched, so a storage
// backend that commits on clean EOF can never store a body the client did not sign.
//
// References: AWS "Signature Version 4 signing process", "Authenticating Requests: Using the
// Authorization Header", "… Using Query Parameters", "… Transferring Payload in Multiple
// Chunks (Chunked Upload)", "… including trailing headers", and S3 "Checking object integrity".
package sigv4

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/s3fed/s3fed/internal/identity"
)

// Credential is what verification needs about an access key; Identity passes through to the
// handler untouched so the policy engine sees who signed.
type Credential struct {
	// AccessKeyID is the key id as the client names it in its Credential scope.
	AccessKeyID string
	// SecretKey is the (derived) secret the client signs with.
	SecretKey string
	// SessionToken is "" when the key has none; otherwise requests must carry it.
	SessionToken string
	// Expiry is when the credential stops working; zero means it does not expire.
	Expiry time.Time
	// Identity is the verified caller the key was issued to.
	Identity identity.Identity
}

// CredentialSource looks up an access key. It returns (possibly wrapped) ErrUnknownAccessKey
// for unknown or revoked keys and ErrExpiredCredential for expired ones; any other error is
// treated as the credential store being unavailable. It is called once per request, so it
// should be cached (internal/creds is).
type CredentialSource interface {
	Credential(ctx context.Context, accessKeyID string) (Credential, error)
}

// CredentialSourceFunc adapts a function to CredentialSource, for tests and small wiring.
type CredentialSourceFunc func(ctx context.Context, accessKeyID string) (Credential, error)

// Credential calls f.
func (f CredentialSourceFunc) Credential(ctx context.Context, accessKeyID string) (Credential, error) {
	return f(ctx, accessKeyID)
}

// Verifier authenticates requests signed with SigV4 for one region and service. Its fields
// are set once at start-up; it is safe for concurrent use.
type Verifier struct {
	// Region the credential scope must name, e.g. "us-east-1"; "" means "us-east-1", the
	// region API.md gives S3 unless one is configured.
	Region string
	// Service the credential scope must name: "s3" (the STS endpoint may use "sts");
	// "" means "s3".
	Service string
	// Source looks up access keys.
	Source CredentialSource
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MaxSkew is the tolerated difference between X-Amz-Date and Now for header-signed
	// requests (and how far in the future a presigned X-Amz-Date may be); 0 means 15 minutes,
	// as AWS allows.
	MaxSkew time.Duration
}

// Result is a verified request.
type Result struct {
	// Credential is the credential that signed the request.
	Credential Credential
	// Presigned is true for query-string (presigned URL) authentication.
	Presigned bool
	// Body is the verified payload; r.Body must not be read directly any more. It returns an
	// *Error instead of io.EOF when a digest, chunk signature, trailer signature or checksum
	// does not match, or the body is shorter than declared.
	Body io.ReadCloser
	// DecodedLength is x-amz-decoded-content-length for aws-chunked bodies, else
	// r.ContentLength (-1 when unknown).
	DecodedLength int64
	// Streaming is true for aws-chunked bodies (x-amz-content-sha256 STREAMING-*); the
	// handler should then drop "aws-chunked" from the stored Content-Encoding
	// (see StripAWSChunked).
	Streaming bool
}

// Payload hash values of x-amz-content-sha256 other than a hex digest.
const (
	UnsignedPayload                = "UNSIGNED-PAYLOAD"
	StreamingPayload               = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingPayloadTrailer        = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedTrailer       = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	streamingEvents                = "STREAMING-AWS4-HMAC-SHA256-EVENTS"
	streamingECDSAPrefix           = "STREAMING-AWS4-ECDSA-P256-SHA256"
	defaultMaxSkew                 = 15 * time.Minute
	maxBufferedNonS3Payload  int64 = 1 << 20
)

// MaxBufferedPayload bounds the body Verify reads into memory to hash it when a non-S3
// service (STS) request carries no x-amz-content-sha256: those are small form posts.
const MaxBufferedPayload = maxBufferedNonS3Payload

// IsAnonymous reports a request with no SigV4 auth at all: no Authorization header and no
// X-Amz-Algorithm, X-Amz-Credential or X-Amz-Signature query parameter. A SigV2 presigned
// URL (AWSAccessKeyId and Signature) is not anonymous either, so that Verify refuses it
// clearly instead of the request being served as anonymous.
func IsAnonymous(r *http.Request) bool {
	if len(r.Header["Authorization"]) > 0 {
		return false
	}
	q := r.URL.RawQuery
	if q == "" {
		return true
	}
	return !rawQueryHas(q, "X-Amz-Algorithm") && !rawQueryHas(q, "X-Amz-Credential") &&
		!rawQueryHas(q, "X-Amz-Signature") && !(rawQueryHas(q, "AWSAccessKeyId") && rawQueryHas(q, "Signature"))
}

// rawQueryHas reports whether the raw query has a parameter named exactly key.
func rawQueryHas(q, key string) bool {
	for q != "" {
		var part string
		part, q, _ = strings.Cut(q, "&")
		k, _, _ := strings.Cut(part, "=")
		if k == key {
			return true
		}
	}
	return false
}

// StripAWSChunked removes the "aws-chunked" coding from a Content-Encoding value, which
// describes the transfer of a streaming upload and is not part of the object's metadata.
func StripAWSChunked(contentEncoding string) string {
	if !strings.Contains(strings.ToLower(contentEncoding), "aws-chunked") {
		return contentEncoding
	}
	var out []string
	for _, p := range strings.Split(contentEncoding, ",") {
		p = strings.TrimSpace(p)
		if p == "" || strings.EqualFold(p, "aws-chunked") {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ",")
}

// scratch holds per-request buffers reused through a pool so Verify allocates little.
type scratch struct {
	buf     []byte
	sts     []byte
	key     []byte
	params  []queryParam
	hvals   [][]string
	mac     *hmacSHA256
	sumBuf  [32]byte
	gotSig  [32]byte
	hexHash [64]byte
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{
		buf:    make([]byte, 0, 1024),
		sts:    make([]byte, 0, 256),
		key:    make([]byte, 0, 128),
		params: make([]queryParam, 0, 16),
		hvals:  make([][]string, 0, 16),
		mac:    newHMAC(),
	}
}}

// request is the state of one verification.
type request struct {
	r          *http.Request
	presigned  bool
	auth       authFields
	amzDate    string
	t          time.Time
	payload    string // the HashedPayload line of the canonical request
	token      string
	hasToken   bool
	checksumHd []checksumHeader
	// objectChecksums is set for CompleteMultipartUpload (POST ?uploadId),
	// whose x-amz-checksum-* headers carry the object's checksum (what the
	// assembled object must have), not the request body's; the S3 handler
	// checks them.
	objectChecksums bool
}

// checksumHeader is an x-amz-checksum-* value header seen on the request.
type checksumHeader struct {
	algo  *checksumAlgo
	name  string
	value string
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) region() string {
	if v.Region != "" {
		return v.Region
	}
	return "us-east-1"
}

func (v *Verifier) service() string {
	if v.Service != "" {
		return v.Service
	}
	return "s3"
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return defaultMaxSkew
}

// Verify authenticates r. On success r.Body must no longer be read directly: Result.Body is
// the verified payload (decoded from aws-chunked when streaming) that returns an error
// INSTEAD of io.EOF when the payload hash / a chunk signature / the trailer signature / a
// checksum does not match, so a backend that commits only on clean EOF never stores a bad
// body. Every error, from Verify and from Result.Body, is an *Error.
//
// Missing x-amz-content-sha256 on a header-signed S3 request is refused (InvalidRequest), as
// AWS S3 does: without it the server would have to buffer the whole body before it could
// check the signature. For other services (STS) the body, at most MaxBufferedPayload bytes,
// is hashed instead, as SigV4 specifies.
func (v *Verifier) Verify(r *http.Request) (*Result, error) {
	res, err := v.verify(r)
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (v *Verifier) verify(r *http.Request) (*Result, *Error) {
	if v.Source == nil {
		return nil, newErr(CodeServiceUnavailable, "no credential source is configured", nil)
	}
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)

	var ok bool
	s.params, ok = parseQuery(s.params[:0], r.URL.RawQuery)
	if !ok {
		return nil, newErr(CodeInvalidRequest, "the query string contains a malformed %-escape", nil)
	}
	rq := request{r: r}
	authz := r.Header["Authorization"]
	presigned := hasParam(s.params, "X-Amz-Algorithm") || hasParam(s.params, "X-Amz-Credential") || hasParam(s.params, "X-Amz-Signature")
	switch {
	case len(authz) > 0 && presigned:
		return nil, newErr(CodeInvalidRequest, "only one auth mechanism allowed; send either the Authorization header or X-Amz-Algorithm query parameters, not both", nil)
	case len(authz) > 1:
		return nil, newErr(CodeAuthorizationHeaderMalformed, "the request carries more than one Authorization header", nil)
	case len(authz) == 1:
		if e := v.parseHeaderAuth(&rq, authz[0]); e != nil {
			return nil, e
		}
	case presigned:
		rq.presigned = true
		if e := v.parseQueryAuth(&rq, s.params); e != nil {
			return nil, e
		}
	case hasParam(s.params, "AWSAccessKeyId") && hasParam(s.params, "Signature"):
		return nil, newErr(CodeAccessDenied, "Signature Version 2 presigned URLs are not supported; presign with Signature Version 4 (X-Amz-Algorithm=AWS4-HMAC-SHA256)", nil)
	default:
		return nil, newErr(CodeAccessDenied, "the request is not signed; sign it with AWS Signature Version 4", nil)
	}

	// Scope: region and service must be ours, and the date must be the request's.
	c := &rq.auth.cred
	malformed := CodeAuthorizationHeaderMalformed
	if rq.presigned {
		malformed = CodeAuthorizationQueryParametersError
	}
	if c.date != rq.amzDate[:8] {
		return nil, newErr(malformed, "the credential scope date "+c.date+" is not the date of the request ("+rq.amzDate[:8]+")", nil)
	}
	if c.region != v.region() {
		return nil, newErr(malformed, "the region "+strconv.Quote(trunc(c.region))+" is wrong; expecting "+strconv.Quote(v.region()), nil)
	}
	if c.service != v.service() {
		return nil, newErr(malformed, "the service "+strconv.Quote(trunc(c.service))+" is wrong; expecting "+strconv.Quote(v.service()), nil)
	}
	if !signedHeaderHas(rq.auth.signedHeaders, "host") {
		return nil, newErr(malformed, "the host header must be signed", nil)
	}

	// Headers: every x-amz-* header must be signed; collect the signed ones' values.
	rq.objectChecksums = r.Method == http.MethodPost && hasParam(s.params, "uploadId")
	if e := collectHeaders(s, &rq); e != nil {
		return nil, e
	}

	// Security token carried by the request (header, or query for presigned URLs).
	if t, ok := headerValue(r.Header, "X-Amz-Security-Token"); ok {
		rq.token, rq.hasToken = t, true
	}
	if rq.presigned {
		if t, ok := queryValue(s.params, "X-Amz-Security-Token"); ok {
			if rq.hasToken && t != rq.token {
				return nil, newErr(CodeInvalidToken, "the security token in the query and in the header differ", nil)
			}
			rq.token, rq.hasToken = t, true
		}
	}

	// Payload hash line.
	if e := v.payloadHash(&rq, s); e != nil {
		return nil, e
	}

	// Credential.
	cred, err := v.Source.Credential(r.Context(), c.accessKeyID)
	if err != nil {
		switch {
		case errors.Is(err, ErrUnknownAccessKey):
			return nil, newErr(CodeInvalidAccessKeyID, "the AWS access key id you provided does not exist in our records", err)
		case errors.Is(err, ErrExpiredCredential):
			return nil, newErr(CodeExpiredToken, "the provided token has expired", err)
		default:
			return nil, newErr(CodeServiceUnavailable, "credentials cannot be looked up right now; retry later", err)
		}
	}
	if cred.SecretKey == "" {
		return nil, newErr(CodeServiceUnavailable, "credentials cannot be looked up right now; retry later", errors.New("credential source returned an empty secret"))
	}
	// The causes (for logs, never the answer) tell these refusals from the source's own.
	if cred.AccessKeyID != "" && cred.AccessKeyID != c.accessKeyID {
		return nil, newErr(CodeInvalidAccessKeyID, "the AWS access key id you provided does not exist in our records",
			fmt.Errorf("%w: the credential source answered with another access key id", ErrUnknownAccessKey))
	}
	if !cred.Expiry.IsZero() && !v.now().Before(cred.Expiry) {
		return nil, newErr(CodeExpiredToken, "the provided token has expired",
			fmt.Errorf("%w: the key expired at %s", ErrExpiredCredential, cred.Expiry.UTC().Format(time.RFC3339Nano)))
	}
	switch {
	case cred.SessionToken == "" && rq.hasToken:
		return nil, newErr(CodeInvalidToken, "the request carries a security token but the access key has none", nil)
	case cred.SessionToken != "" && !rq.hasToken:
		return nil, newErr(CodeInvalidToken, "the access key requires a security token (x-amz-security-token) and the request carries none", nil)
	case cred.SessionToken != "" && subtle.ConstantTimeCompare([]byte(cred.SessionToken), []byte(rq.token)) != 1:
		return nil, newErr(CodeInvalidToken, "the provided security token is malformed or otherwise invalid", nil)
	}

	// Signature.
	key, kb := signingKey(s.mac, s.key, c.accessKeyID, cred.SecretKey, c.date, c.region, c.service)
	s.key = kb
	path := rawPath(r)
	if !v.checkSignature(s, &rq, path, &key) {
		alt, ok := alternatePath(path)
		if !ok || !v.checkSignature(s, &rq, alt, &key) {
			return nil, newErr(CodeSignatureDoesNotMatch, "the request signature we calculated does not match the signature you provided; check your key and signing method", nil)
		}
	}

	res := &Result{Credential: cred, Presigned: rq.presigned, DecodedLength: r.ContentLength}
	if e := v.buildBody(res, &rq, &key); e != nil {
		return nil, e
	}
	return res, nil
}

func hasParam(params []queryParam, key string) bool {
	_, ok := queryValue(params, key)
	return ok
}

// headerValue returns the first value of a header by its canonical key without allocating.
func headerValue(h http.Header, canonicalKey string) (string, bool) {
	v := h[canonicalKey]
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}

func (v *Verifier) parseHeaderAuth(rq *request, authz string) *Error {
	a, e := parseAuthorization(authz)
	if e != nil {
		return e
	}
	rq.auth = a
	r := rq.r
	if d, ok := headerValue(r.Header, "X-Amz-Date"); ok {
		t, ok := parseAmzDate(d)
		if !ok {
			return newErr(CodeAccessDenied, "x-amz-date must be an ISO 8601 basic timestamp such as 20060102T150405Z", nil)
		}
		rq.t, rq.amzDate = t, d
	} else if d, ok := headerValue(r.Header, "Date"); ok {
		t, err := http.ParseTime(d)
		if err != nil {
			return newErr(CodeAccessDenied, "AWS authentication requires a valid Date or x-amz-date header", err)
		}
		if !signedHeaderHas(a.signedHeaders, "date") {
			return newErr(CodeAccessDenied, "the Date header must be signed when x-amz-date is absent", nil)
		}
		rq.t, rq.amzDate = t.UTC(), t.UTC().Format(amzDateLayout)
	} else {
		return newErr(CodeAccessDenied, "AWS authentication requires a valid Date or x-amz-date header", nil)
	}
	now := v.now()
	if d := now.Sub(rq.t); d > v.maxSkew() || d < -v.maxSkew() {
		return newErr(CodeRequestTimeTooSkewed, "the difference between the request time and the server's time is too large", nil)
	}
	return nil
}

func (v *Verifier) parseQueryAuth(rq *request, params []queryParam) *Error {
	const missing = "query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters"
	get := func(k string) (string, bool) {
		val, ok := queryValue(params, k)
		return val, ok && val != ""
	}
	algo, ok := get("X-Amz-Algorithm")
	if !ok {
		return newErr(CodeAuthorizationQueryParametersError, missing, nil)
	}
	switch algo {
	case algoSigV4:
	case algoSigV4a:
		return newErr(CodeNotImplemented, "SigV4a (AWS4-ECDSA-P256-SHA256) presigned URLs are not supported; presign with SigV4", nil)
	default:
		return newErr(CodeAuthorizationQueryParametersError, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"", nil)
	}
	credStr, ok1 := get("X-Amz-Credential")
	sig, ok2 := get("X-Amz-Signature")
	date, ok3 := get("X-Amz-Date")
	sh, ok4 := get("X-Amz-SignedHeaders")
	exp, ok5 := get("X-Amz-Expires")
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return newErr(CodeAuthorizationQueryParametersError, missing, nil)
	}
	for _, s := range []string{credStr, sig, date, sh, exp} {
		if len(s) > MaxAuthorizationLen {
			return newErr(CodeAuthorizationQueryParametersError, "a presigned URL parameter is too long", nil)
		}
	}
	c, msg := parseCredential(credStr)
	if msg != "" {
		return newErr(CodeAuthorizationQueryParametersError, "X-Amz-Credential: "+msg, nil)
	}
	rq.auth.cred = c
	if msg := validSignedHeaders(sh); msg != "" {
		return newErr(CodeAuthorizationQueryParametersError, "X-Amz-SignedHeaders: "+msg, nil)
	}
	rq.auth.signedHeaders = sh
	if !parseSignature(sig, &rq.auth.signature) {
		return newErr(CodeAuthorizationQueryParametersError, "X-Amz-Signature must be 64 hexadecimal digits", nil)
	}
	t, ok := parseAmzDate(date)
	if !ok {
		return newErr(CodeAuthorizationQueryParametersError, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"", nil)
	}
	rq.t, rq.amzDate = t, date
	// AWS's order and answers: not a number, negative and longer than a
	// week are 400 AuthorizationQueryParametersError; 0 is a URL that
	// expired at its own X-Amz-Date (403 AccessDenied "Request has expired").
	digits := strings.TrimPrefix(exp, "-")
	secs, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || !allDigits(digits) {
		return newErr(CodeAuthorizationQueryParametersError, "X-Amz-Expires should be a number", nil)
	}
	if digits != exp && secs != 0 {
		return newErr(CodeAuthorizationQueryParametersError, "X-Amz-Expires must be non-negative", nil)
	}
	if secs > MaxPresignExpires {
		return newErr(CodeAuthorizationQueryParametersError, "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds", nil)
	}
	now := v.now()
	if t.Sub(now) > v.maxSkew() {
		return newErr(CodeAccessDenied, "Request is not valid yet: X-Amz-Date is in the future", nil)
	}
	if secs == 0 || now.After(t.Add(time.Duration(secs)*time.Second)) {
		return newErr(CodeAccessDenied, "Request has expired", nil)
	}
	return nil
}

// collectHeaders checks that every x-amz-* header is signed, records checksum headers, and
// gathers the values of each signed header into s.hvals (index = position in SignedHeaders).
func collectHeaders(s *scratch, rq *request) *Error {
	sh := rq.auth.signedHeaders
	n := strings.Count(sh, ";") + 1
	s.hvals = s.hvals[:0]
	for range n {
		s.hvals = append(s.hvals, nil)
	}
	for k, vals := range rq.r.Header {
		idx := signedIndex(sh, k)
		if idx >= 0 {
			if s.hvals[idx] == nil {
				s.hvals[idx] = vals
			} else {
				s.hvals[idx] = append(append([]string(nil), s.hvals[idx]...), vals...)
			}
		}
		if len(k) >= 6 && strings.EqualFold(k[:6], "x-amz-") {
			if idx < 0 {
				return newErr(CodeAccessDenied, "There were headers present in the request which were not signed: "+strings.ToLower(trunc(k)), nil)
			}
			if algo, isValue := lookupChecksum(k); isValue {
				if algo == nil {
					return newErr(CodeInvalidRequest, "the checksum header "+strings.ToLower(trunc(k))+" names an unsupported algorithm", nil)
				}
				if len(vals) != 1 {
					return newErr(CodeInvalidRequest, "the header "+strings.ToLower(k)+" must appear once", nil)
				}
				if !rq.objectChecksums {
					rq.checksumHd = append(rq.checksumHd, checksumHeader{algo: algo, name: strings.ToLower(k), value: vals[0]})
				}
			}
		}
	}
	if len(rq.checksumHd) > 1 {
		return newErr(CodeInvalidRequest, "expecting a single x-amz-checksum- header; multiple checksum types are not allowed", nil)
	}
	return nil
}

// signedIndex returns the position of header name k in the ';'-separated list, compared
// case-insensitively, or -1.
func signedIndex(list, k string) int {
	i := 0
	for list != "" {
		var h string
		h, list, _ = strings.Cut(list, ";")
		if len(h) == len(k) && strings.EqualFold(h, k) {
			return i
		}
		i++
	}
	return -1
}

// payloadHash decides the HashedPayload line of the canonical request.
func (v *Verifier) payloadHash(rq *request, s *scratch) *Error {
	r := rq.r
	if rq.presigned {
		if h, ok := queryValue(s.params, "X-Amz-Content-Sha256"); ok {
			if isStreaming(h) {
				return newErr(CodeInvalidRequest, "presigned URLs cannot carry aws-chunked streaming payloads", nil)
			}
			if h != UnsignedPayload && !isHexSHA256(h) {
				return newErr(CodeInvalidRequest, "X-Amz-Content-Sha256 must be UNSIGNED-PAYLOAD or a hex SHA-256", nil)
			}
			rq.payload = h
			return nil
		}
		if v.service() == "s3" {
			rq.payload = UnsignedPayload
			return nil
		}
		return v.bufferedPayloadHash(rq, s)
	}
	h, ok := headerValue(r.Header, "X-Amz-Content-Sha256")
	if !ok {
		if v.service() == "s3" {
			return newErr(CodeInvalidRequest, "Missing required header for this request: x-amz-content-sha256", nil)
		}
		return v.bufferedPayloadHash(rq, s)
	}
	switch {
	case h == UnsignedPayload, h == StreamingPayload, h == StreamingPayloadTrailer, h == StreamingUnsignedTrailer, isHexSHA256(h):
		rq.payload = h
		return nil
	case h == streamingEvents || strings.HasPrefix(h, streamingECDSAPrefix):
		return newErr(CodeNotImplemented, "the payload signing mode "+h+" is not supported", nil)
	}
	return newErr(CodeInvalidRequest, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-UNSIGNED-PAYLOAD-TRAILER or a hex SHA-256", nil)
}

// bufferedPayloadHash hashes a small body for services whose clients do not send
// x-amz-content-sha256, and puts the bytes back as r.Body.
func (v *Verifier) bufferedPayloadHash(rq *request, s *scratch) *Error {
	r := rq.r
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength > MaxBufferedPayload {
			return newErr(CodeEntityTooLarge, "the request body is larger than "+strconv.FormatInt(MaxBufferedPayload, 10)+" bytes", nil)
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, MaxBufferedPayload+1))
		if err != nil {
			return mapReadErr(err)
		}
		if int64(len(b)) > MaxBufferedPayload {
			return newErr(CodeEntityTooLarge, "the request body is larger than "+strconv.FormatInt(MaxBufferedPayload, 10)+" bytes", nil)
		}
		body = b
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		r.ContentLength = int64(len(b))
	}
	sum := sha256.Sum256(body)
	rq.payload = hex.EncodeToString(sum[:])
	return nil
}

func isStreaming(h string) bool { return strings.HasPrefix(h, "STREAMING-") }

func isHexSHA256(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if _, ok := unhex(h[i]); !ok {
			return false
		}
	}
	return true
}

// checkSignature builds the canonical request and string to sign for path and compares the
// resulting signature with the one sent, in constant time.
func (v *Verifier) checkSignature(s *scratch, rq *request, path string, key *[32]byte) bool {
	r := rq.r
	b := s.buf[:0]
	b = append(b, r.Method...)
	b = append(b, '\n')
	if path == "" {
		path = "/"
	}
	b = append(b, path...)
	b = append(b, '\n')
	b = appendCanonicalQuery(b, s.params, rq.presigned)
	b = append(b, '\n')
	sh := rq.auth.signedHeaders
	for i := 0; sh != ""; i++ {
		var name string
		name, sh, _ = strings.Cut(sh, ";")
		b = append(b, name...)
		b = append(b, ':')
		switch {
		case name == "host":
			b = appendHeaderValue(b, r.Host)
		case i < len(s.hvals) && s.hvals[i] != nil:
			for j, val := range s.hvals[i] {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendHeaderValue(b, val)
			}
		case name == "content-length" && r.ContentLength >= 0:
			b = strconv.AppendInt(b, r.ContentLength, 10)
		case name == "transfer-encoding" && len(r.TransferEncoding) > 0:
			b = append(b, strings.Join(r.TransferEncoding, ",")...)
		}
		b = append(b, '\n')
	}
	b = append(b, '\n')
	b = append(b, rq.auth.signedHeaders...)
	b = append(b, '\n')
	b = append(b, rq.payload...)
	s.buf = b
	s.sumBuf = sha256.Sum256(b)
	hex.Encode(s.hexHash[:], s.sumBuf[:])

	t := s.sts[:0]
	t = append(t, "AWS4-HMAC-SHA256\n"...)
	t = append(t, rq.amzDate...)
	t = append(t, '\n')
	t = append(t, rq.auth.cred.scope...)
	t = append(t, '\n')
	t = append(t, s.hexHash[:]...)
	s.sts = t
	s.mac.mac(key[:], t, &s.gotSig)
	return hmac.Equal(s.gotSig[:], rq.auth.signature[:])
}

// buildBody sets res.Body (and Streaming, DecodedLength) to the verifying reader the
// payload mode calls for.
func (v *Verifier) buildBody(res *Result, rq *request, key *[32]byte) *Error {
	r := rq.r
	var checks []digestCheck
	if md, ok := headerValue(r.Header, "Content-Md5"); ok {
		want, ok := decodeDigest(md, md5Algo.size)
		if !ok {
			return newErr(CodeInvalidDigest, "the Content-MD5 you specified is not valid", nil)
		}
		checks = append(checks, digestCheck{h: md5Algo.new(), want: want, code: CodeBadDigest, label: "Content-MD5"})
	}
	for _, ch := range rq.checksumHd {
		want, ok := decodeDigest(ch.value, ch.algo.size)
		if !ok {
			return newErr(CodeInvalidRequest, "value for "+ch.name+" header is invalid", nil)
		}
		checks = append(checks, digestCheck{h: ch.algo.new(), want: want, code: CodeBadDigest, label: ch.name})
	}

	switch rq.payload {
	case StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedTrailer:
		return v.buildStreamingBody(res, rq, key, checks)
	case UnsignedPayload:
	default:
		var w [sha256.Size]byte
		if _, err := hex.Decode(w[:], []byte(rq.payload)); err != nil {
			return newErr(CodeInvalidRequest, "x-amz-content-sha256 is not hexadecimal", err)
		}
		if r.ContentLength == 0 && len(checks) == 0 {
			if !hmac.Equal(w[:], emptySHA256[:]) {
				return newErr(CodeXAmzContentSHA256Mismatch, "the SHA-256 of the body does not match x-amz-content-sha256", nil)
			}
			break
		}
		// First, so a corrupted body is reported as S3 does: the signed hash did not match.
		want := append([]byte(nil), w[:]...)
		checks = append([]digestCheck{{h: sha256.New(), want: want, code: CodeXAmzContentSHA256Mismatch, label: "x-amz-content-sha256"}}, checks...)
	}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		if len(checks) == 0 {
			res.Body = http.NoBody
			return nil
		}
	}
	var src io.Reader = http.NoBody
	var closer io.Closer
	if r.Body != nil {
		src, closer = r.Body, r.Body
	}
	res.Body = &bodyReader{src: src, closer: closer, checks: checks, want: r.ContentLength}
	return nil
}

func (v *Verifier) buildStreamingBody(res *Result, rq *request, key *[32]byte, checks []digestCheck) *Error {
	r := rq.r
	dl, ok := headerValue(r.Header, "X-Amz-Decoded-Content-Length")
	if !ok {
		return newErr(CodeMissingContentLength, "aws-chunked uploads require x-amz-decoded-content-length", nil)
	}
	n, err := strconv.ParseInt(dl, 10, 64)
	if err != nil || n < 0 || !allDigits(dl) {
		return newErr(CodeInvalidRequest, "x-amz-decoded-content-length must be a non-negative integer", err)
	}
	if r.Body == nil {
		return newErr(CodeIncompleteBody, "aws-chunked upload without a body", nil)
	}
	cr := &chunkReader{
		br:         newChunkBufReader(r.Body),
		signed:     rq.payload != StreamingUnsignedTrailer,
		decodedLen: n,
	}
	cr.trailerMode = rq.payload != StreamingPayload
	cr.signedTrailer = rq.payload == StreamingPayloadTrailer
	if cr.signed {
		cr.mac = newHMAC()
		cr.key = *key
		cr.amzDate = rq.amzDate
		cr.scope = rq.auth.cred.scope
		cr.prev = rq.auth.signature
		cr.chunkHash = sha256.New()
	}
	if cr.trailerMode {
		for _, vals := range r.Header.Values("X-Amz-Trailer") {
			for _, name := range strings.Split(vals, ",") {
				name = strings.ToLower(strings.TrimSpace(name))
				if name == "" {
					continue
				}
				algo, isValue := lookupChecksum(name)
				if algo == nil || !isValue {
					return newErr(CodeInvalidRequest, "x-amz-trailer names "+strconv.Quote(trunc(name))+"; only x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1, -sha256 and -sha512 trailers are supported", nil)
				}
				if containsString(cr.declared, name) {
					continue
				}
				if len(cr.declared) > 0 {
					return newErr(CodeInvalidRequest, "x-amz-trailer may name only one checksum", nil)
				}
				cr.declared = append(cr.declared, name)
				checks = append(checks, digestCheck{h: algo.new(), code: CodeBadDigest, label: name, trailer: name})
			}
		}
	} else if _, ok := headerValue(r.Header, "X-Amz-Trailer"); ok {
		return newErr(CodeInvalidRequest, "x-amz-trailer requires x-amz-content-sha256 "+StreamingPayloadTrailer+" or "+StreamingUnsignedTrailer, nil)
	}
	res.Streaming = true
	res.DecodedLength = n
	res.Body = &bodyReader{src: cr, closer: r.Body, chunks: cr, checks: checks, want: n}
	return nil
}

// newChunkBufReader sizes the buffer so one chunk header line (MaxChunkLineLen) fits and no
// longer line can: ReadSlice then reports ErrBufferFull for an over-long line.
func newChunkBufReader(r io.Reader) *bufio.Reader {
	return bufio.NewReaderSize(r, MaxChunkLineLen)
}
