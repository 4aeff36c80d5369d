package s3

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/s3fed/s3fed/internal/s3/sigv4"
	"github.com/s3fed/s3fed/internal/storage"
)

// Browser-based POST uploads (S3's POST Object): an HTML form posts
// multipart/form-data to the bucket's URL with the object in its "file"
// field. The form is authorised by a POST policy — a JSON document of an
// expiration and conditions on the form's fields — signed with an s3fed
// key (sigv4.PostForm); the upload is then the signer's s3:PutObject,
// decided by the org's policies and the bucket's like any other PUT. A form
// without a policy would be anonymous, which s3fed refuses.

// Limits of a POST upload.
const (
	// MaxPostFormFields bounds the bytes of the fields before the file
	// (S3 refuses large ones with MaxPostPreDataLengthExceededError).
	MaxPostFormFields = 64 << 10
	// MaxPostPolicy bounds the decoded POST policy.
	MaxPostPolicy = 20 << 10
	// maxPostConditions bounds the conditions of one policy.
	maxPostConditions = 256
	// maxPostParts bounds the fields of one form.
	maxPostParts = 256
)

// corsPreflight answers OPTIONS: s3fed has no CORS configuration, so a
// preflight is refused as S3 refuses it on a bucket without one, and an
// OPTIONS request that is not a preflight is a bad request.
func corsPreflight(r *http.Request) error {
	if r.Header.Get("Origin") == "" || r.Header.Get("Access-Control-Request-Method") == "" {
		return newError("BadRequest", http.StatusBadRequest, "Insufficient information. Origin request header needed.")
	}
	return newError("AccessForbidden", http.StatusForbidden, "CORSResponse: CORS is not enabled for this bucket.")
}

// PostAuthenticator verifies a POST policy signature. *sigv4.Verifier
// implements it; an Authenticator without it makes POST uploads
// NotImplemented.
type PostAuthenticator interface {
	VerifyPost(ctx context.Context, f sigv4.PostForm) (sigv4.Credential, error)
}

// isMultipartForm reports a multipart/form-data request body.
func isMultipartForm(h http.Header) bool {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data" && params["boundary"] != ""
}

func errMalformedPost(msg string) *Error {
	return newError("MalformedPOSTRequest", http.StatusBadRequest, msg)
}

func errPolicyDenied(msg string) *Error {
	return errAccessDenied("Invalid according to Policy: " + msg)
}

func errInvalidPolicy(msg string) *Error {
	return newError("InvalidPolicyDocument", http.StatusBadRequest, "Invalid Policy: "+msg)
}

// postField is one form field before the file.
type postField struct {
	name  string // as sent
	value string
}

type postForm struct {
	fields []postField
	byName map[string]string // lower-case name → value
}

func (f *postForm) get(name string) (string, bool) {
	v, ok := f.byName[strings.ToLower(name)]
	return v, ok
}

// postObject serves a browser upload: read the fields up to the file,
// verify the policy's signature, check the policy against the fields,
// authorise s3:PutObject for the signer, then stream the file into the
// backend, bounded by the policy's content-length-range.
func (rq *request) postObject() error {
	_, params, _ := mime.ParseMediaType(rq.r.Header.Get("Content-Type"))
	mr := multipart.NewReader(rq.body, params["boundary"])
	form := &postForm{byName: map[string]string{}}
	var (
		file     *multipart.Part
		fileName string
		preBytes int
	)
	for parts := 0; ; parts++ {
		if parts == maxPostParts {
			return errMalformedPost("The POST form has more than " + strconv.Itoa(maxPostParts) + " fields.")
		}
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rq.postReadError(err, "The body of your POST request is not well-formed multipart/form-data.")
		}
		name := p.FormName()
		if name == "" {
			return errMalformedPost("A part of the POST form has no field name.")
		}
		if strings.EqualFold(name, "file") {
			file, fileName = p, p.FileName()
			break
		}
		v, err := io.ReadAll(io.LimitReader(p, int64(MaxPostFormFields-preBytes+1)))
		if err != nil {
			return rq.postReadError(err, "The body of your POST request is not well-formed multipart/form-data.")
		}
		preBytes += len(name) + len(v)
		if preBytes > MaxPostFormFields {
			return newError("MaxPostPreDataLengthExceededError", http.StatusBadRequest,
				"Your POST request fields preceding the upload file were too large (at most "+strconv.Itoa(MaxPostFormFields)+" bytes).")
		}
		lname := strings.ToLower(name)
		if _, dup := form.byName[lname]; dup {
			return errInvalidArgument("The POST form field " + truncate(name, 64) + " appears more than once.")
		}
		form.byName[lname] = string(v)
		form.fields = append(form.fields, postField{name: name, value: string(v)})
	}
	if file == nil {
		return errInvalidArgument("POST requires exactly one file upload per request.")
	}

	// Authentication: the policy's signature.
	pa, ok := rq.s.auth.(PostAuthenticator)
	if !ok {
		return errNotImplemented("Browser POST uploads are not available with this authenticator.")
	}
	pf := postAuthFields(form)
	if pf.Policy == "" && pf.Signature == "" && pf.SignatureV2 == "" && pf.AccessKeyID == "" && pf.Credential == "" {
		return errAccessDenied("Anonymous access is not allowed; sign the POST policy with s3fed credentials.")
	}
	cred, err := pa.VerifyPost(rq.ctx, pf)
	if err != nil {
		return err
	}
	rq.ident = cred.Identity
	rq.accessKey = cred.AccessKeyID
	rq.ev.OrgID = rq.ident.OrgID
	rq.ev.PrincipalName = rq.ident.PrincipalName
	rq.ev.Role = rq.ident.Role
	rq.ev.AccessKeyID = rq.accessKey

	// The key, with ${filename} replaced by the file's name.
	key, ok := form.get("key")
	if !ok || key == "" {
		return errInvalidArgument("Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.")
	}
	if strings.Contains(key, "${filename}") {
		base := fileName
		if i := strings.LastIndexAny(base, `/\`); i >= 0 {
			base = base[i+1:]
		}
		key = strings.ReplaceAll(key, "${filename}", base)
	}
	if len(key) > MaxKeyLength {
		return newError("KeyTooLongError", http.StatusBadRequest, "Your key is too long")
	}
	rq.key = key
	rq.ev.Resource = resourceOf(rq.bucket, key)

	// The policy: decoded, unexpired, every condition met, every field
	// covered.
	pol, err := parsePostPolicy(pf.Policy, rq.s.now())
	if err != nil {
		return err
	}
	if err := pol.check(form, rq.bucket, key, pf.V4()); err != nil {
		return err
	}

	// Authorisation: a PUT by the signer.
	if err := rq.authorize(actPutObject, rq.bucket, key, ""); err != nil {
		return err
	}

	// What the fields ask of the object, refused where a PUT would be.
	h := http.Header{}
	for _, f := range form.fields {
		h.Add(f.name, f.value)
	}
	if acl, ok := form.get("acl"); ok {
		h.Set("X-Amz-Acl", acl)
	}
	if err := checkObjectACL(h); err != nil {
		return err
	}
	if _, ok := form.get("tagging"); ok {
		return errNotImplemented("Object tagging is not implemented by s3fed.")
	}
	opts, err := putOptions(h)
	if err != nil {
		return err
	}
	if opts.Checksum, err = postChecksum(form); err != nil {
		return err
	}

	body := &rangeReader{r: file, min: pol.minLen, max: pol.maxLen}
	if pol.maxLen < 0 || pol.maxLen > MaxObjectSize {
		body.max = MaxObjectSize
	}
	info, err := rq.s.backend.PutObject(rq.ctx, rq.bucket, key, body, opts)
	if err != nil {
		return fmt.Errorf("post object: %w", err)
	}
	return rq.postAnswer(form, key, info)
}

// postReadError maps a failed read of the form: a client that was too
// slow or went away keeps its own error; anything else is a malformed
// form.
func (rq *request) postReadError(err error, msg string) error {
	if ae := toAPIError(err); ae.Code != "InternalError" {
		return err
	}
	return &Error{Code: "MalformedPOSTRequest", Status: http.StatusBadRequest, Message: msg, Err: err}
}

func postAuthFields(f *postForm) sigv4.PostForm {
	g := func(n string) string { v, _ := f.get(n); return v }
	tok, hasTok := f.get("x-amz-security-token")
	return sigv4.PostForm{
		Policy: g("policy"), Algorithm: g("x-amz-algorithm"), Credential: g("x-amz-credential"),
		Date: g("x-amz-date"), Signature: g("x-amz-signature"),
		AccessKeyID: g("AWSAccessKeyId"), SignatureV2: g("signature"),
		SecurityToken: tok, HasSecurityToken: hasTok,
	}
}

// postChecksum reads an x-amz-checksum-ALGO field (the object's checksum,
// checked by the backend against the file's bytes) or
// x-amz-checksum-algorithm (computed and kept).
func postChecksum(f *postForm) (*storage.Checksum, error) {
	var out *storage.Checksum
	for _, fl := range f.fields {
		a, ok := strings.CutPrefix(strings.ToLower(fl.name), "x-amz-checksum-")
		if !ok || a == "type" || a == "mode" {
			continue
		}
		if a == "algorithm" {
			if out == nil {
				algo := storage.ChecksumAlgorithm(fl.value)
				if algo == "" {
					return nil, errInvalidRequest("Value for x-amz-checksum-algorithm is invalid.")
				}
				out = &storage.Checksum{Algorithm: algo, Type: storage.ChecksumTypeFullObject}
			}
			continue
		}
		algo := storage.ChecksumAlgorithm(a)
		if algo == "" {
			return nil, errInvalidRequest("Value for " + strings.ToLower(fl.name) + " is invalid.")
		}
		h := storage.NewChecksumHash(algo)
		if d, err := base64.StdEncoding.DecodeString(fl.value); err != nil || len(d) != h.Size() {
			return nil, errInvalidRequest("Value for " + strings.ToLower(fl.name) + " is invalid.")
		}
		if out != nil && out.Value != "" {
			return nil, errInvalidRequest("Expecting a single x-amz-checksum- field. Multiple checksum Types are not allowed.")
		}
		out = &storage.Checksum{Algorithm: algo, Type: storage.ChecksumTypeFullObject, Value: fl.value}
	}
	return out, nil
}

// postAnswer answers a stored upload as the form asks: a redirect
// (success_action_redirect, or the older "redirect"), else the status of
// success_action_status (200, 201 with a PostResponse document, 204 by
// default and for any other value).
func (rq *request) postAnswer(f *postForm, key string, info storage.ObjectInfo) error {
	hd := rq.w.Header()
	hd.Set("ETag", quoteETag(info.ETag))
	setChecksumHeaders(hd, info.Checksum)
	loc := rq.objectURL()
	hd.Set("Location", loc)
	redirect, ok := f.get("success_action_redirect")
	if !ok {
		redirect, ok = f.get("redirect")
	}
	if ok && redirect != "" {
		if u, err := url.Parse(redirect); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
			q := u.Query()
			q.Set("bucket", rq.bucket)
			q.Set("key", key)
			q.Set("etag", quoteETag(info.ETag))
			u.RawQuery = q.Encode()
			hd.Set("Location", u.String())
			hd.Set("Content-Length", "0")
			rq.w.WriteHeader(http.StatusSeeOther)
			return nil
		}
	}
	status, _ := f.get("success_action_status")
	switch status {
	case "200":
		hd.Set("Content-Length", "0")
		rq.w.WriteHeader(http.StatusOK)
	case "201":
		body, err := xml.Marshal(postResponse{Location: loc, Bucket: rq.bucket, Key: key, ETag: quoteETag(info.ETag)})
		if err != nil {
			return fmt.Errorf("marshal PostResponse: %w", err)
		}
		hd.Set("Content-Type", "application/xml")
		hd.Set("Content-Length", strconv.Itoa(len(xmlHeader)+len(body)))
		rq.w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(rq.w, xmlHeader)
		_, _ = rq.w.Write(body)
	default:
		rq.w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

type postResponse struct {
	XMLName  xml.Name `xml:"PostResponse"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

// rangeReader enforces a policy's content-length-range on the file while
// it streams: past max is EntityTooLarge at once, short of min
// EntityTooSmall at the end (instead of EOF, so nothing is stored).
type rangeReader struct {
	r        io.Reader
	n        int64
	min, max int64
}

func (c *rangeReader) Read(p []byte) (int, error) {
	if c.max >= 0 && int64(len(p)) > c.max-c.n+1 {
		p = p[:c.max-c.n+1]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.max >= 0 && c.n > c.max {
		return 0, newError("EntityTooLarge", http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed size")
	}
	if err == io.EOF && c.n < c.min {
		return n, newError("EntityTooSmall", http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed size")
	}
	if err != nil && err != io.EOF {
		var ae *Error
		if !errors.As(err, &ae) {
			err = &Error{Code: "IncompleteBody", Status: http.StatusBadRequest, Message: "The POST body ended before the end of the file field.", Err: err}
		}
	}
	return n, err
}

// postPolicy is a decoded POST policy.
type postPolicy struct {
	conds          []postCond
	minLen, maxLen int64 // content-length-range; maxLen -1 when absent
}

// postCond is one condition: field op value. op is "eq" or "starts-with".
type postCond struct {
	field, op, value string
	text             string // as written, for messages
}

// parsePostPolicy decodes the base64 policy: exactly "expiration" (ISO 8601,
// not past) and "conditions" (a list), keys case-sensitive as in S3.
func parsePostPolicy(b64 string, now time.Time) (*postPolicy, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errInvalidPolicy("the policy is not valid base64.")
	}
	if len(raw) > MaxPostPolicy {
		return nil, errInvalidPolicy("the policy is longer than " + strconv.Itoa(MaxPostPolicy) + " bytes.")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]json.RawMessage
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return nil, errInvalidPolicy("Invalid JSON.")
	}
	for k := range doc {
		if k != "expiration" && k != "conditions" {
			return nil, errInvalidPolicy("Unexpected field " + strconv.Quote(truncate(k, 64)) + "; a POST policy has \"expiration\" and \"conditions\".")
		}
	}
	var exp string
	if err := json.Unmarshal(doc["expiration"], &exp); err != nil || exp == "" {
		return nil, errInvalidPolicy("Policy missing expiration.")
	}
	t, err := time.Parse(time.RFC3339Nano, exp)
	if err != nil {
		return nil, errInvalidPolicy("Invalid 'expiration' value: " + strconv.Quote(truncate(exp, 64)))
	}
	var conds []json.RawMessage
	if d := json.NewDecoder(bytes.NewReader(doc["conditions"])); doc["conditions"] == nil || d.Decode(&conds) != nil {
		return nil, errInvalidPolicy("Policy missing conditions.")
	}
	if len(conds) > maxPostConditions {
		return nil, errInvalidPolicy("more than " + strconv.Itoa(maxPostConditions) + " conditions.")
	}
	p := &postPolicy{maxLen: -1}
	for _, c := range conds {
		if err := p.addCondition(c); err != nil {
			return nil, err
		}
	}
	if !now.Before(t) {
		return nil, errPolicyDenied("Policy expired.")
	}
	return p, nil
}

func (p *postPolicy) addCondition(c json.RawMessage) error {
	text := truncate(string(bytes.TrimSpace(c)), 200)
	var obj map[string]json.RawMessage
	if json.Unmarshal(c, &obj) == nil {
		if len(obj) != 1 {
			return errInvalidPolicy("Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified: " + text)
		}
		for k, v := range obj {
			var s string
			if json.Unmarshal(v, &s) != nil {
				return errInvalidPolicy("Invalid Simple-Condition: value must be a string: " + text)
			}
			p.conds = append(p.conds, postCond{field: strings.ToLower(k), op: "eq", value: s, text: text})
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(c))
	dec.UseNumber()
	var arr []any
	if dec.Decode(&arr) != nil || len(arr) == 0 {
		return errInvalidPolicy("Invalid condition: " + text)
	}
	op, _ := arr[0].(string)
	switch strings.ToLower(op) {
	case "content-length-range":
		if len(arr) != 3 {
			return errInvalidPolicy("Invalid content-length-range: " + text)
		}
		lo, ok1 := jsonInt(arr[1])
		hi, ok2 := jsonInt(arr[2])
		if !ok1 || !ok2 || lo < 0 || hi < lo {
			return errInvalidPolicy("Invalid content-length-range: " + text)
		}
		p.minLen, p.maxLen = lo, hi
		return nil
	case "eq", "starts-with":
		if len(arr) != 3 {
			return errInvalidPolicy("Invalid condition: " + text)
		}
		field, ok1 := arr[1].(string)
		value, ok2 := arr[2].(string)
		if !ok1 || !ok2 || !strings.HasPrefix(field, "$") || len(field) < 2 {
			return errInvalidPolicy("Invalid condition: " + text)
		}
		p.conds = append(p.conds, postCond{field: strings.ToLower(field[1:]), op: strings.ToLower(op), value: value, text: text})
		return nil
	}
	return errInvalidPolicy("Invalid condition: " + text)
}

func jsonInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// exemptPostField reports form fields S3 does not require the policy to
// name: the signature and policy themselves, x-ignore-* fields, and
// checksums (which can only refuse an upload).
func exemptPostField(name string, v4 bool) bool {
	switch {
	case name == "policy", name == "file", strings.HasPrefix(name, "x-ignore-"),
		strings.HasPrefix(name, "x-amz-checksum-"):
		return true
	case v4:
		return name == "x-amz-signature"
	}
	return name == "awsaccesskeyid" || name == "signature"
}

// check applies the policy to the form: the bucket condition is required
// and holds for the bucket posted to; every condition holds for its field;
// every field but the exempt ones is named by a condition.
func (p *postPolicy) check(f *postForm, bucket, key string, v4 bool) error {
	value := func(field string) (string, bool) {
		switch field {
		case "bucket":
			return bucket, true
		case "key":
			return key, true
		}
		return f.get(field)
	}
	covered := map[string]bool{}
	hasBucket := false
	for _, c := range p.conds {
		covered[c.field] = true
		if c.field == "bucket" {
			hasBucket = true
		}
		v, ok := value(c.field)
		if !ok || !c.holds(v) {
			return errPolicyDenied("Policy Condition failed: " + c.text)
		}
	}
	if !hasBucket {
		return errPolicyDenied("Policy Condition failed: the policy names no bucket ({\"bucket\": \"" + bucket + "\"})")
	}
	var extra []string
	for _, fl := range f.fields {
		n := strings.ToLower(fl.name)
		if !covered[n] && !exemptPostField(n, v4) && n != "bucket" {
			extra = append(extra, truncate(fl.name, 64))
		}
	}
	if len(extra) > 0 {
		return errPolicyDenied("Extra input fields: " + strings.Join(extra, ", "))
	}
	return nil
}

func (c postCond) holds(v string) bool {
	if c.op == "eq" {
		return v == c.value
	}
	if c.field == "content-type" {
		// A Content-Type may list several types; each must match.
		for _, t := range strings.Split(v, ",") {
			if !strings.HasPrefix(strings.TrimSpace(t), c.value) {
				return false
			}
		}
		return true
	}
	return strings.HasPrefix(v, c.value)
}
