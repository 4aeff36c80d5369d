// Package s3 is s3fed's S3 front door: it routes S3 REST requests (path-style
// and virtual-hosted-style) without http.ServeMux, verifies them with SigV4,
// maps each operation to its IAM action and resource, asks the Authorizer,
// writes one access event per decision, and serves the bytes from a
// storage.Backend. Bucket ownership and bucket policies live in the caller's
// state store behind the Buckets interface, never in the backend, so every
// replica in front of a shared S3 cluster agrees on them.
//
// Everything S3-on-the-wire (XML, headers, error codes, status codes) lives
// here; the backend stays protocol-free (DESIGN.md, storage seam).
package s3

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/s3fed/s3fed/internal/bodytimeout"
	"github.com/s3fed/s3fed/internal/identity"
	"github.com/s3fed/s3fed/internal/s3/sigv4"
	"github.com/s3fed/s3fed/internal/storage"
)

// Limits the front door enforces itself, before the backend sees a request.
// Each is S3's own limit where S3 has one.
const (
	// MaxObjectSize is the largest single PUT (S3: 5 GiB).
	MaxObjectSize int64 = 5 << 30
	// MaxPartSize is the largest multipart part (S3: 5 GiB).
	MaxPartSize int64 = 5 << 30
	// MaxXMLBodySize bounds CompleteMultipartUpload, DeleteObjects and
	// CreateBucket bodies; larger ones are MaxMessageLengthExceeded.
	MaxXMLBodySize int64 = 1 << 20
	// MaxPolicySize is S3's bucket policy size limit (20 KiB).
	MaxPolicySize int64 = 20 << 10
	// MaxKeys is the most keys (and uploads, and parts) one listing returns.
	MaxKeys = 1000
	// MaxDeleteObjects is the most keys one DeleteObjects request may name.
	MaxDeleteObjects = 1000
	// MaxKeyLength is S3's key length limit in bytes.
	MaxKeyLength = 1024
	// MaxUserMetadataSize is S3's limit on the total size of x-amz-meta-*
	// names and values (2 KiB).
	MaxUserMetadataSize = 2 << 10
)

// Authenticator verifies a request's SigV4 signature and returns the verified
// credential and payload reader. *sigv4.Verifier satisfies it; tests use
// doubles.
type Authenticator interface {
	Verify(r *http.Request) (*sigv4.Result, error)
}

// AuthzRequest is everything the Authorizer needs to decide one S3 action.
type AuthzRequest struct {
	// Identity is the verified caller (from the SigV4 credential).
	Identity identity.Identity
	// AccessKeyID is the key the request was signed with (for explanations).
	AccessKeyID string
	// Action is the IAM action name, e.g. "s3:GetObject".
	Action string
	// Resource is "*" (ListAllMyBuckets), "bucket" or "bucket/key".
	Resource string
	// Bucket is the bucket the action addresses ("" for ListAllMyBuckets).
	Bucket string
	// BucketOwnerOrg is the org that owns Bucket. It is "" when the bucket
	// does not exist (or for ListAllMyBuckets and CreateBucket, where no
	// existing owner is relevant): decide on the caller's org policies alone.
	BucketOwnerOrg string
	// BucketPolicy is the bucket's raw policy document, nil when none.
	BucketPolicy []byte
	// SourceIP is the client address (aws:SourceIp).
	SourceIP netip.Addr
	// SecureTransport is true when the request came over TLS
	// (aws:SecureTransport).
	SecureTransport bool
	// Prefix is the listing prefix for s3:ListBucket (s3:prefix).
	Prefix string
}

// AuthzDecision is the Authorizer's answer.
type AuthzDecision struct {
	Allowed bool
	// Statement names the deciding statement as "policy/statement", or "".
	// A denied request's AccessDenied message names it.
	Statement string
	// Reason is a human explanation for the audit log.
	Reason string
}

// Authorizer decides S3 actions with the org and bucket policies. The lead's
// policy engine implements it; keeping it an interface keeps this package
// free of policy internals.
type Authorizer interface {
	Authorize(ctx context.Context, req AuthzRequest) AuthzDecision
}

// BucketRecord is a bucket's ownership as s3fed state keeps it.
type BucketRecord struct {
	Name string
	// OrgID owns the bucket; tenancy is drawn on it.
	OrgID string
	// CreatedBy is the principal name that created it.
	CreatedBy string
	Created   time.Time
	// PublicAccessBlock is the bucket's Block Public Access configuration,
	// nil when it has none.
	PublicAccessBlock *PublicAccessBlock
}

// Sentinels a Buckets implementation returns (wrapped or not).
var (
	// ErrNoSuchBucket: no bucket of that name.
	ErrNoSuchBucket = errors.New("s3: no such bucket")
	// ErrBucketExists: Create found the name taken (by any org).
	ErrBucketExists = errors.New("s3: bucket already exists")
)

// Buckets is the state store's view of bucket ownership and bucket policies.
// Names are global across orgs, as on S3.
type Buckets interface {
	// Owner returns the bucket's record and policy (nil when none), or
	// ErrNoSuchBucket.
	Owner(ctx context.Context, bucket string) (BucketRecord, []byte, error)
	// Create claims the name atomically, or returns ErrBucketExists.
	Create(ctx context.Context, rec BucketRecord) error
	// Delete forgets the bucket and its policy; ErrNoSuchBucket when absent.
	Delete(ctx context.Context, bucket string) error
	// List returns the org's buckets sorted by name.
	List(ctx context.Context, orgID string) ([]BucketRecord, error)
	// SetPolicy stores the bucket's policy document (already validated).
	SetPolicy(ctx context.Context, bucket string, policy []byte) error
	// DeletePolicy removes it; removing an absent policy is not an error.
	DeletePolicy(ctx context.Context, bucket string) error
}

// AccessEvent is the audit record of one S3 authorisation decision.
type AccessEvent struct {
	Time          time.Time
	RequestID     string
	OrgID         string
	PrincipalName string
	Role          string
	AccessKeyID   string
	// Action is the IAM action ("s3:GetObject"), or "" when the request was
	// refused before an operation was identified.
	Action   string
	Resource string
	// Decision is the audit outcome: "Allow" or "Deny" when a policy
	// decided; requests refused before authorisation (bad signature,
	// unknown key, malformed request) are "Deny". A request that ends in a
	// 5xx before any policy decided (501 NotImplemented, a failing
	// dependency) is "failure": nothing was allowed or denied, and
	// ErrorCode says what happened.
	Decision string
	// Statement is the deciding "policy/statement", or "".
	Statement string
	SourceIP  string
	Status    int
	BytesIn   int64
	BytesOut  int64
	// ErrorCode is the S3 error code answered, "" on success.
	ErrorCode string
	// Operation is the S3 operation name ("GetObject", "DeleteObjects"),
	// "" when the request was refused before it was identified; with
	// Duration it lets the wiring derive request metrics from the log.
	Operation string
	// Duration is the time from the request's arrival to the end of the
	// answer.
	Duration time.Duration
}

// AccessLog receives access events. It must not block for long: it runs on
// the request path after the answer is written.
type AccessLog interface {
	LogAccess(ctx context.Context, ev AccessEvent)
}

// Config holds the Server's dependencies and settings.
type Config struct {
	// Authenticator, Authorizer, Buckets and Backend are required.
	Authenticator Authenticator
	Authorizer    Authorizer
	Buckets       Buckets
	Backend       storage.Backend
	// AccessLog receives one event per decision; nil logs nothing.
	AccessLog AccessLog
	// STS, when set, serves anonymous form POSTs to "/" (the AWS STS query
	// API shares the S3 listener).
	STS http.Handler
	// Region is the S3 region; "" means us-east-1.
	Region string
	// Domain enables virtual-hosted-style addressing: Host
	// "bucket.<Domain>[:port]" names the bucket. "" means path-style only.
	Domain string
	// PolicyValidator checks a bucket policy before it is stored; an error
	// answers MalformedPolicy with its message. nil only checks JSON syntax.
	PolicyValidator func(bucket string, doc []byte) error
	// PolicyIsPublic reports whether a (valid) bucket policy grants access
	// to anyone, for GetBucketPolicyStatus and BlockPublicPolicy. nil
	// treats every policy as not public.
	PolicyIsPublic func(bucket string, doc []byte) bool
	// Logger logs bugs (panics, internal errors); nil uses slog.Default.
	Logger *slog.Logger
	// SourceIP extracts the client address; nil uses r.RemoteAddr. Set it
	// when s3fed runs behind a trusted proxy.
	SourceIP func(r *http.Request) netip.Addr
	// Now is the clock for Last-Modified-free decisions; nil is time.Now.
	Now func() time.Time
	// BodyStallTimeout ends a request body that sends no bytes for this
	// long (RequestTimeout); an upload may otherwise take as long as it
	// needs. 0 means DefaultBodyStallTimeout.
	BodyStallTimeout time.Duration
	// STSBodyTimeout bounds the whole body of an STS query API request
	// (small, anonymous). 0 means DefaultSTSBodyTimeout.
	STSBodyTimeout time.Duration
}

// Defaults of the body timeouts (Config).
const (
	DefaultBodyStallTimeout = 60 * time.Second
	DefaultSTSBodyTimeout   = 30 * time.Second
)

// Server is the S3 front door, an http.Handler for the S3 listener.
type Server struct {
	auth      Authenticator
	authz     Authorizer
	buckets   Buckets
	backend   storage.Backend
	accessLog AccessLog
	sts       http.Handler
	region    string
	domain    string
	validate  func(string, []byte) error
	isPublic  func(string, []byte) bool
	log       *slog.Logger
	sourceIP  func(*http.Request) netip.Addr
	now       func() time.Time
	stall     time.Duration
	stsBody   time.Duration
}

// New checks cfg and builds a Server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Authenticator == nil:
		return nil, errors.New("s3: Config.Authenticator is required")
	case cfg.Authorizer == nil:
		return nil, errors.New("s3: Config.Authorizer is required")
	case cfg.Buckets == nil:
		return nil, errors.New("s3: Config.Buckets is required")
	case cfg.Backend == nil:
		return nil, errors.New("s3: Config.Backend is required")
	}
	s := &Server{
		auth: cfg.Authenticator, authz: cfg.Authorizer, buckets: cfg.Buckets, backend: cfg.Backend,
		accessLog: cfg.AccessLog, sts: cfg.STS, region: cfg.Region,
		domain:   strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(cfg.Domain, "."), ".")),
		validate: cfg.PolicyValidator, isPublic: cfg.PolicyIsPublic, log: cfg.Logger, sourceIP: cfg.SourceIP, now: cfg.Now,
		stall: cfg.BodyStallTimeout, stsBody: cfg.STSBodyTimeout,
	}
	if s.stall <= 0 {
		s.stall = DefaultBodyStallTimeout
	}
	if s.stsBody <= 0 {
		s.stsBody = DefaultSTSBodyTimeout
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.sourceIP == nil {
		s.sourceIP = remoteIP
	}
	return s, nil
}

func remoteIP(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// request is the per-request state handlers share.
type request struct {
	s      *Server
	w      *responseWriter
	r      *http.Request
	ctx    context.Context
	id     string
	hostID string
	query  url.Values

	bucket, key string
	result      *sigv4.Result
	ident       identity.Identity
	accessKey   string
	body        *countingReader
	srcIP       netip.Addr

	// owner and policy of the route's bucket once looked up.
	owner     BucketRecord
	policy    []byte
	ownerErr  error
	ownerDone bool

	// ev is the request's access event; events holds extra per-key events
	// (DeleteObjects) logged instead of ev when ev is suppressed.
	ev         AccessEvent
	decided    bool // a policy decided ev.Decision
	suppressEv bool
	start      time.Time
}

// ServeHTTP routes, authenticates, authorises and serves one S3 request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bucket, key, rerr := s.route(r)
	if rerr == nil && bucket == "" && key == "" && s.sts != nil && r.Method == http.MethodPost && isForm(r) && sigv4.IsAnonymous(r) {
		bodytimeout.Total(w, r, s.stsBody)
		s.sts.ServeHTTP(w, r)
		return
	}
	bodytimeout.Stall(w, r, s.stall)
	if r.ContentLength == 0 && r.ProtoAtLeast(1, 1) && strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		// net/http sends 100 Continue only when a body is read, so an
		// empty-bodied request would get its answer without one. RFC 9110
		// allows that, but botocore before 1.31 (Debian's boto3, aws-cli v2
		// of its era) then keeps the answer's status line for the next
		// request on the connection, misreads that answer and waits for its
		// read timeout (60 s). S3 sends 100 Continue; so does s3fed.
		w.WriteHeader(http.StatusContinue)
	}
	rq := &request{
		s: s, r: r, ctx: r.Context(), id: newRequestID(), hostID: newHostID(),
		w:      &responseWriter{ResponseWriter: w},
		bucket: bucket, key: key,
		srcIP: s.sourceIP(r),
	}
	h := rq.w.Header()
	setAmzHeader(h, "x-amz-request-id", rq.id)
	setAmzHeader(h, "x-amz-id-2", rq.hostID)
	h.Set("Server", "s3fed")
	rq.start = s.now()
	rq.ev = AccessEvent{Time: rq.start.UTC(), RequestID: rq.id, SourceIP: ipString(rq.srcIP), Decision: "Deny", Resource: resourceOf(bucket, key)}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("s3: panic serving request (bug)", "request_id", rq.id, "method", r.Method, "path", r.URL.EscapedPath(), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			rq.fail(errInternal)
		}
		rq.finish()
	}()
	if rerr != nil {
		rq.fail(rerr)
		return
	}
	if err := rq.serve(); err != nil {
		rq.fail(err)
	}
}

func isForm(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

func ipString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func resourceOf(bucket, key string) string {
	switch {
	case bucket == "":
		return "*"
	case key == "":
		return bucket
	}
	return bucket + "/" + key
}

// serve authenticates the request, identifies the operation and runs it.
// The operation is identified before authentication so that refused
// requests are audited with the action they attempted, but its errors are
// answered only to authenticated callers.
func (rq *request) serve() error {
	r := rq.r
	q, qerr := url.ParseQuery(r.URL.RawQuery)
	rq.query = q
	var o op
	opErr := qerr
	if qerr != nil {
		opErr = errInvalidArgument("The query string is not valid.")
	} else {
		o, opErr = identify(r.Method, rq.bucket, rq.key, q, r.Header)
		rq.ev.Action = o.action
		rq.ev.Operation = o.name
	}
	if r.Method == http.MethodOptions {
		return corsPreflight(r)
	}
	if opErr == nil && o.name == "PostObject" {
		// A browser upload is authenticated by its signed POST policy, not
		// by SigV4 on the request.
		rq.body = &countingReader{r: r.Body}
		if !validBucketName(rq.bucket) {
			return newError("InvalidBucketName", http.StatusBadRequest, "The specified bucket is not valid.")
		}
		return o.handler(rq)
	}
	if sigv4.IsAnonymous(r) {
		return errAccessDenied("Anonymous access is not allowed; sign the request with SigV4 credentials from s3fed.")
	}
	res, err := rq.s.auth.Verify(r)
	if err != nil {
		return err
	}
	if res == nil {
		return fmt.Errorf("authenticator returned no result: %w", errInternal)
	}
	rq.result = res
	rq.ident = res.Credential.Identity
	rq.accessKey = res.Credential.AccessKeyID
	rq.ev.OrgID = rq.ident.OrgID
	rq.ev.PrincipalName = rq.ident.PrincipalName
	rq.ev.Role = rq.ident.Role
	rq.ev.AccessKeyID = rq.accessKey
	var body io.Reader = r.Body
	if res.Body != nil {
		body = res.Body
	}
	if body == nil {
		body = http.NoBody
	}
	rq.body = &countingReader{r: body}
	if opErr != nil {
		return opErr
	}
	if rq.bucket != "" && !validBucketName(rq.bucket) {
		return newError("InvalidBucketName", http.StatusBadRequest, "The specified bucket is not valid.")
	}
	if len(rq.key) > MaxKeyLength {
		return newError("KeyTooLongError", http.StatusBadRequest, "Your key is too long")
	}
	if !o.selfAuthz {
		// s3:prefix exists only for listings; other operations must not let
		// a stray ?prefix= influence a condition.
		prefix := ""
		if o.action == actListBucket || o.action == actListBucketVersions || o.action == actListBucketMultipartUploads {
			prefix = rq.query.Get("prefix")
		}
		if err := rq.authorize(o.action, rq.bucket, rq.key, prefix); err != nil {
			return err
		}
	}
	return o.handler(rq)
}

// lookupBucket loads the route bucket's owner and policy once.
func (rq *request) lookupBucket(bucket string) (BucketRecord, []byte, error) {
	if bucket == rq.bucket {
		if !rq.ownerDone {
			rq.owner, rq.policy, rq.ownerErr = rq.s.buckets.Owner(rq.ctx, bucket)
			rq.ownerDone = true
		}
		return rq.owner, rq.policy, rq.ownerErr
	}
	return rq.s.buckets.Owner(rq.ctx, bucket)
}

// authorize decides action on bucket[/key] and records the decision in the
// request's access event. A missing bucket is NoSuchBucket only for callers
// whose own org policies allow the action (AccessDenied otherwise), so a
// caller learns no more than S3 would tell it. CreateBucket and
// ListAllMyBuckets are decided without an owner.
func (rq *request) authorize(action, bucket, key, prefix string) error {
	d, foreign, missing, err := rq.decide(action, bucket, key, prefix)
	if err != nil {
		return err
	}
	rq.ev.Action = action
	rq.ev.Resource = resourceOf(bucket, key)
	rq.ev.Statement = d.Statement
	rq.decided = true
	if !d.Allowed {
		rq.ev.Decision = "Deny"
		return deniedError(d, foreign)
	}
	rq.ev.Decision = "Allow"
	if missing {
		return errNoSuchBucket
	}
	if bucket == rq.bucket && action != actCreateBucket {
		return checkExpectedOwner(rq.r.Header.Get("x-amz-expected-bucket-owner"), rq.owner.OrgID)
	}
	return nil
}

// checkExpectedOwner applies x-amz-expected-bucket-owner (and the copy
// source's x-amz-source-expected-bucket-owner): a client that names the org
// it expects gets AccessDenied instead of writing into someone else's
// bucket. s3fed's owner IDs are org IDs, as ListBuckets shows them.
func checkExpectedOwner(expected, owner string) error {
	if expected != "" && expected != owner {
		return errAccessDenied("Access Denied: the bucket is not owned by the expected bucket owner")
	}
	return nil
}

// decide asks the Authorizer without touching the access event. foreign
// reports a bucket owned by another org than the caller's; missing a bucket
// that does not exist.
func (rq *request) decide(action, bucket, key, prefix string) (d AuthzDecision, foreign, missing bool, err error) {
	req := AuthzRequest{
		Identity: rq.ident, AccessKeyID: rq.accessKey, Action: action,
		Resource: resourceOf(bucket, key), Bucket: bucket,
		SourceIP: rq.srcIP, SecureTransport: rq.r.TLS != nil, Prefix: prefix,
	}
	if bucket != "" && action != "s3:CreateBucket" {
		rec, pol, err := rq.lookupBucket(bucket)
		switch {
		case errors.Is(err, ErrNoSuchBucket):
			missing = true
		case err != nil:
			return d, false, false, fmt.Errorf("look up bucket %q: %w", bucket, err)
		default:
			req.BucketOwnerOrg = rec.OrgID
			req.BucketPolicy = pol
			foreign = rec.OrgID != rq.ident.OrgID
		}
	}
	return rq.s.authz.Authorize(rq.ctx, req), foreign, missing, nil
}

// deniedError is the AccessDenied answer. It names the deciding statement
// only when the bucket is the caller's org's own (or there is none): on
// another org's bucket the statement may come from that org's bucket
// policy, whose contents are not the caller's to see. The audit event keeps
// the statement either way.
func deniedError(d AuthzDecision, foreign bool) *Error {
	if d.Statement != "" && !foreign {
		return errAccessDenied("Access Denied: explicitly denied by statement " + d.Statement)
	}
	return errAccessDenied("Access Denied: no policy statement allows this action")
}

// fail writes err as an S3 error unless an answer was already started.
func (rq *request) fail(err error) {
	ae := toAPIError(err)
	switch {
	case ae.Status == http.StatusNotImplemented:
		// A feature s3fed lacks, asked for by a client: worth knowing,
		// not a fault.
		rq.s.log.Info("s3: not implemented", "request_id", rq.id, "method", rq.r.Method, "path", rq.r.URL.EscapedPath(),
			"operation", rq.ev.Operation, "message", ae.Message)
	case ae.Status >= 500:
		rq.s.log.Error("s3: server error", "request_id", rq.id, "method", rq.r.Method, "path", rq.r.URL.EscapedPath(),
			"status", ae.Status, "code", ae.Code, "err", err.Error())
	}
	if ae.Status >= 500 && !rq.decided {
		rq.ev.Decision = "failure"
	}
	rq.ev.ErrorCode = ae.Code
	if rq.w.wroteHeader {
		return
	}
	resource := "/"
	if rq.bucket != "" {
		resource = "/" + resourceOf(rq.bucket, rq.key)
	}
	writeError(rq.w, rq.r, ae, resource, rq.id, rq.hostID)
}

// finish releases the verified body, fills in the access event and logs it.
func (rq *request) finish() {
	if rq.result != nil && rq.result.Body != nil {
		_ = rq.result.Body.Close()
	}
	if rq.s.accessLog == nil || rq.suppressEv {
		return
	}
	rq.ev.Duration = rq.s.now().Sub(rq.start)
	rq.ev.Status = rq.w.status()
	rq.ev.BytesOut = rq.w.n
	if rq.body != nil {
		rq.ev.BytesIn = rq.body.n
	}
	rq.s.accessLog.LogAccess(context.WithoutCancel(rq.ctx), rq.ev)
}

// responseWriter records the status and counts the bytes written.
type responseWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
	n           int64
}

// WriteHeader records the first status for the access event.
func (w *responseWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write counts the body bytes for the access event.
func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy on the underlying writer's fast path (sendfile).
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(w.ResponseWriter, src)
	}
	w.n += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseWriter) status() int {
	if !w.wroteHeader {
		return http.StatusOK
	}
	return w.code
}

// countingReader counts the payload bytes a handler consumed.
type countingReader struct {
	r io.Reader
	n int64
}

// Read counts the bytes read.
func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func newRequestID() string {
	var b [8]byte
	v := rand.Uint64()
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

func newHostID() string {
	var b [24]byte
	for i := 0; i < len(b); i += 8 {
		v := rand.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return base64.StdEncoding.EncodeToString(b[:])
}

// hostBucket returns the bucket named by a virtual-hosted-style Host, or "".
func (s *Server) hostBucket(host string) string {
	if s.domain == "" {
		return ""
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if len(host) > len(s.domain)+1 && strings.HasSuffix(host, s.domain) && host[len(host)-len(s.domain)-1] == '.' {
		return host[:len(host)-len(s.domain)-1]
	}
	return ""
}

// route splits the request target into bucket and key. The escaped path is
// split once and each part unescaped once, so keys keep "//", "..", "%2F"
// (as "/"), "+" and spaces exactly as the client meant them.
func (s *Server) route(r *http.Request) (bucket, key string, err error) {
	p := r.URL.EscapedPath()
	if p == "" {
		p = "/"
	}
	if p[0] != '/' {
		return "", "", newError("InvalidURI", http.StatusBadRequest, "Couldn't parse the specified URI.")
	}
	p = p[1:]
	if hb := s.hostBucket(r.Host); hb != "" {
		key, err := url.PathUnescape(p)
		if err != nil {
			return "", "", newError("InvalidURI", http.StatusBadRequest, "Couldn't parse the specified URI.")
		}
		return hb, key, nil
	}
	rawBucket, rawKey, _ := strings.Cut(p, "/")
	if bucket, err = url.PathUnescape(rawBucket); err == nil {
		key, err = url.PathUnescape(rawKey)
	}
	if err != nil {
		return "", "", newError("InvalidURI", http.StatusBadRequest, "Couldn't parse the specified URI.")
	}
	if bucket == "" && key != "" {
		return "", "", newError("InvalidURI", http.StatusBadRequest, "Couldn't parse the specified URI.")
	}
	return bucket, key, nil
}

// validBucketName applies S3's general-purpose bucket naming rules.
func validBucketName(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	if !isAlnum(b[0]) || !isAlnum(b[len(b)-1]) {
		return false
	}
	if strings.Contains(b, "..") || strings.Contains(b, ".-") || strings.Contains(b, "-.") {
		return false
	}
	if _, err := netip.ParseAddr(b); err == nil {
		return false
	}
	if strings.HasPrefix(b, "xn--") || strings.HasPrefix(b, "sthree-") ||
		strings.HasSuffix(b, "-s3alias") || strings.HasSuffix(b, "--ol-s3") {
		return false
	}
	return true
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
