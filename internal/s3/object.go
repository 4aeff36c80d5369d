package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/s3fed/s3fed/internal/storage"
)

// Standard headers an object keeps from its PUT and sends back on GET, in
// the canonical form storage.ObjectInfo.Metadata uses.
var storedHeaders = []string{"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"}

func isStoredHeader(k string) bool {
	for _, h := range storedHeaders {
		if h == k {
			return true
		}
	}
	return false
}

// defaultContentType is what S3 stores when a PUT names none.
const defaultContentType = "binary/octet-stream"

// putOptions reads Content-Type, x-amz-meta-* and the stored standard
// headers of a PUT, CreateMultipartUpload or CopyObject REPLACE.
func putOptions(h http.Header) (storage.PutOptions, error) {
	opts := storage.PutOptions{ContentType: h.Get("Content-Type"), Size: -1}
	if err := checkWriteHeaders(h); err != nil {
		return opts, err
	}
	if opts.ContentType == "" {
		opts.ContentType = defaultContentType
	}
	md := map[string]string{}
	userSize := 0
	for k, vs := range h {
		lk := strings.ToLower(k)
		name, ok := strings.CutPrefix(lk, "x-amz-meta-")
		if !ok || name == "" {
			continue
		}
		v := strings.Join(vs, ",")
		userSize += len(name) + len(v)
		md[name] = v
	}
	if userSize > MaxUserMetadataSize {
		return opts, newError("MetadataTooLarge", http.StatusBadRequest,
			"Your metadata headers exceed the maximum allowed metadata size of "+strconv.Itoa(MaxUserMetadataSize)+" bytes.")
	}
	for _, k := range storedHeaders {
		v := h.Get(k)
		if k == "Content-Encoding" {
			v = stripAWSChunked(strings.Join(h.Values(k), ", "))
		}
		if v != "" {
			md[k] = v
		}
	}
	if len(md) > 0 {
		opts.Metadata = md
	}
	return opts, nil
}

// stripAWSChunked removes the aws-chunked transfer coding, which describes
// the upload, not the object; the other codings are kept in order, joined
// as HTTP lists are (", ").
func stripAWSChunked(v string) string {
	if v == "" {
		return v
	}
	parts := strings.Split(v, ",")
	out := parts[:0]
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p != "" && !strings.EqualFold(p, "aws-chunked") {
			out = append(out, p)
		}
	}
	return strings.Join(out, ", ")
}

// payload returns the verified body and its decoded length (-1 when the
// client sent none), refusing lengths above max. A body of unknown length is
// cut off with EntityTooLarge past max.
func (rq *request) payload(max int64) (io.Reader, int64, error) {
	size := rq.r.ContentLength
	if rq.result != nil && rq.result.Streaming {
		size = rq.result.DecodedLength
	} else if dl := rq.r.Header.Get("x-amz-decoded-content-length"); dl != "" && size < 0 {
		if n, err := strconv.ParseInt(dl, 10, 64); err == nil && n >= 0 {
			size = n
		}
	}
	if size > max {
		return nil, 0, newError("EntityTooLarge", http.StatusBadRequest,
			"Your proposed upload exceeds the maximum allowed size of "+strconv.FormatInt(max, 10)+" bytes")
	}
	if size < 0 {
		return &capReader{r: rq.body, left: max}, -1, nil
	}
	return rq.body, size, nil
}

// capReader fails with storage.ErrEntityTooLarge once more than left bytes
// arrive, so a body of unknown length is still bounded.
type capReader struct {
	r    io.Reader
	left int64
}

// Read reads at most one byte past the cap, to tell "exactly at" from "over".
func (c *capReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, storage.ErrEntityTooLarge
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return 0, storage.ErrEntityTooLarge
	}
	return n, err
}

// echoChecksums returns the x-amz-checksum-* headers the client sent (and
// the verifier checked), as S3 does on PUT answers.
func (rq *request) echoChecksums() {
	for k, vs := range rq.r.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-checksum-") && len(vs) > 0 && !strings.EqualFold(k, "x-amz-checksum-type") {
			setAmzHeader(rq.w.Header(), k, vs[0])
		}
	}
}

func (rq *request) putObject() error {
	h := rq.r.Header
	opts, err := putOptions(h)
	if err != nil {
		return err
	}
	if err := checkObjectACL(h); err != nil {
		return err
	}
	if err := writeConditions(h, &opts); err != nil {
		return err
	}
	if opts.Checksum, err = requestChecksum(h); err != nil {
		return err
	}
	if opts.IfMatch != "" || opts.IfNoneMatchETag != "" {
		// Decided again atomically by the backend; asking first answers a
		// failed condition before the body is streamed.
		if err := rq.preCheckConditions(opts.IfMatch, opts.IfNoneMatchETag); err != nil {
			return err
		}
	}
	body, size, err := rq.payload(MaxObjectSize)
	if err != nil {
		return err
	}
	opts.Size = size
	info, err := rq.s.backend.PutObject(rq.ctx, rq.bucket, rq.key, body, opts)
	if err != nil {
		return fmt.Errorf("put object: %w", err)
	}
	rq.echoChecksums()
	setChecksumHeaders(rq.w.Header(), info.Checksum)
	rq.w.Header().Set("ETag", quoteETag(info.ETag))
	rq.w.Header().Set("Content-Length", "0")
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// writeConditions reads a PUT's If-Match and If-None-Match (S3's
// conditional writes): If-None-Match "*" or an ETag, If-Match "*" or an
// ETag. A list of several ETags is NotImplemented, as on S3.
func writeConditions(h http.Header, opts *storage.PutOptions) error {
	if v := strings.TrimSpace(h.Get("If-None-Match")); v != "" {
		if strings.Contains(v, ",") {
			return errNotImplemented("A conditional write names one ETag (or *) in If-None-Match.")
		}
		if v == "*" {
			opts.IfNoneMatch = true
		} else {
			opts.IfNoneMatchETag = unquoteETag(v)
		}
	}
	if v := strings.TrimSpace(h.Get("If-Match")); v != "" {
		if strings.Contains(v, ",") {
			return errNotImplemented("A conditional write names one ETag (or *) in If-Match.")
		}
		if v != "*" {
			v = unquoteETag(v)
		}
		opts.IfMatch = v
	}
	return nil
}

// preCheckConditions answers If-Match / If-None-Match ETag conditions of a
// write from the current object: NoSuchKey when If-Match finds none,
// PreconditionFailed when an ETag condition fails. The backend decides them
// again in its commit.
func (rq *request) preCheckConditions(ifMatch, ifNoneMatchETag string) error {
	cur, err := rq.s.backend.HeadObject(rq.ctx, rq.bucket, rq.key)
	if errors.Is(err, storage.ErrObjectNotFound) {
		if ifMatch != "" {
			return wrapErr(errNoSuchKey, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("head object for a conditional write: %w", err)
	}
	if ifMatch != "" && ifMatch != "*" && !strings.EqualFold(ifMatch, cur.ETag) {
		return errPrecondition
	}
	if ifNoneMatchETag != "" && strings.EqualFold(ifNoneMatchETag, cur.ETag) {
		return errPrecondition
	}
	return nil
}

// getObject serves GetObject and HeadObject: conditions, ranges and
// response-* overrides.
func (rq *request) getObject() error {
	r := rq.r
	head := r.Method == http.MethodHead
	overrides, err := responseOverrides(rq.query)
	if err != nil {
		return err
	}
	rangeHdr := r.Header.Get("Range")
	// partNumber reads one part of a multipart object by its boundaries
	// (parallel downloaders do this); an object not made by multipart
	// upload is its own part 1.
	partNum := 0
	if pn, ok := rq.query["partNumber"]; ok {
		n, err := strconv.Atoi(pn[0])
		switch {
		case err != nil || n < 1 || n > storage.MaxParts:
			return errInvalidArgument("Part number must be an integer between 1 and " + strconv.Itoa(storage.MaxParts) + ", inclusive")
		case rangeHdr != "":
			return errInvalidRequest("Cannot specify both Range header and partNumber query parameter")
		}
		partNum = n
	}
	var (
		info  storage.ObjectInfo
		rc    io.ReadCloser
		rng   *storage.Range
		part  *storage.ObjectPart
		parts int
	)
	switch {
	case partNum > 0:
		var all []storage.ObjectPart
		if pl, ok := rq.s.backend.(storage.ObjectPartLister); ok {
			info, all, err = pl.ObjectParts(rq.ctx, rq.bucket, rq.key)
		} else {
			info, err = rq.s.backend.HeadObject(rq.ctx, rq.bucket, rq.key)
		}
		if err != nil {
			return fmt.Errorf("get object: %w", err)
		}
		parts = len(all)
		if partNum > max(parts, 1) {
			return newError("InvalidPartNumber", http.StatusRequestedRangeNotSatisfiable, "The requested partnumber is not satisfiable")
		}
		if parts > 0 {
			part = &all[partNum-1]
			if part.Size > 0 {
				rng = &storage.Range{Start: part.Offset, Length: part.Size}
			}
		} else if info.Size > 0 {
			rng = &storage.Range{Start: 0, Length: info.Size}
		}
	case head || rangeHdr != "":
		info, err = rq.s.backend.HeadObject(rq.ctx, rq.bucket, rq.key)
	default:
		info, rc, err = rq.s.backend.GetObject(rq.ctx, rq.bucket, rq.key, nil)
	}
	if err != nil {
		return fmt.Errorf("get object: %w", err)
	}
	defer func() {
		if rc != nil {
			_ = rc.Close()
		}
	}()
	if st := evalConditions(r.Header, info); st != 0 {
		if st == http.StatusNotModified {
			rq.w.Header().Set("ETag", quoteETag(info.ETag))
			rq.w.Header().Set("Last-Modified", httpTime(info.LastModified))
			rq.w.WriteHeader(http.StatusNotModified)
			return nil
		}
		return errPrecondition
	}
	if rangeHdr != "" {
		var ok bool
		rng, ok = parseRange(rangeHdr, info.Size)
		if !ok {
			rq.w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(info.Size, 10))
			return errInvalidRange
		}
	}
	// A part (or single-part object) of no bytes has nothing to read.
	noBody := head || (partNum > 0 && rng == nil)
	if !noBody && rc == nil {
		var info2 storage.ObjectInfo
		info2, rc, err = rq.s.backend.GetObject(rq.ctx, rq.bucket, rq.key, rng)
		if err != nil {
			return fmt.Errorf("get object: %w", err)
		}
		if info2.ETag != info.ETag {
			// Replaced between the two reads: decide again on what is served.
			if evalConditions(r.Header, info2) != 0 || partNum > 0 {
				return errPrecondition
			}
			if rng != nil && rng.Start+rng.Length > info2.Size {
				return errInvalidRange
			}
		}
		info = info2
	}
	hd := rq.w.Header()
	objectHeaders(hd, info)
	if checksumMode(r.Header) {
		switch {
		case part != nil && part.Checksum != "" && info.Checksum != nil:
			setChecksumHeaders(hd, &storage.Checksum{Algorithm: info.Checksum.Algorithm, Type: info.Checksum.Type, Value: part.Checksum})
		case rangeHdr == "" && part == nil:
			// The whole object (or part 1 of a single-part one): its checksum.
			setChecksumHeaders(hd, info.Checksum)
		}
	}
	for k, v := range overrides {
		hd.Set(k, v)
	}
	status := http.StatusOK
	length := info.Size
	if rng != nil {
		status = http.StatusPartialContent
		length = rng.Length
		hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rng.Start, rng.Start+rng.Length-1, info.Size))
	} else if partNum > 0 {
		length = 0 // an empty part: nothing to range over
	}
	if partNum > 0 {
		setAmzHeader(hd, "x-amz-mp-parts-count", strconv.Itoa(max(parts, 1)))
	}
	hd.Set("Content-Length", strconv.FormatInt(length, 10))
	rq.w.WriteHeader(status)
	if noBody {
		return nil
	}
	if _, err := io.Copy(rq.w, rc); err != nil {
		// The status is sent; the client sees a short body. A client that
		// went away is not a fault; a failing backend read is.
		if rq.ctx.Err() != nil {
			rq.s.log.Debug("s3: client went away during GET", "request_id", rq.id, "err", err)
		} else {
			rq.s.log.Error("s3: streaming object to client failed", "request_id", rq.id, "err", err)
		}
	}
	return nil
}

// checkWriteHeaders refuses write options s3fed would otherwise silently
// ignore: server-side encryption (the store does not encrypt), object lock,
// tagging, and storage classes other than STANDARD. Answering them honestly
// beats storing an object under promises that are not kept.
func checkWriteHeaders(h http.Header) error {
	for k := range h {
		lk := strings.ToLower(k)
		switch {
		case strings.HasPrefix(lk, "x-amz-server-side-encryption"):
			return errNotImplemented("Server-side encryption is not implemented by s3fed.")
		case strings.HasPrefix(lk, "x-amz-object-lock-"):
			return errNotImplemented("Object lock is not implemented by s3fed.")
		case lk == "x-amz-tagging":
			return errNotImplemented("Object tagging is not implemented by s3fed.")
		}
	}
	if sc := h.Get("x-amz-storage-class"); sc != "" && sc != "STANDARD" {
		return newError("InvalidStorageClass", http.StatusBadRequest, "s3fed stores objects in the STANDARD storage class only.")
	}
	return nil
}

// objectHeaders sets the headers GET and HEAD return for an object.
func objectHeaders(hd http.Header, info storage.ObjectInfo) {
	ct := info.ContentType
	if ct == "" {
		ct = defaultContentType
	}
	hd.Set("Content-Type", ct)
	hd.Set("ETag", quoteETag(info.ETag))
	hd.Set("Last-Modified", httpTime(info.LastModified))
	hd.Set("Accept-Ranges", "bytes")
	for k, v := range info.Metadata {
		if isStoredHeader(k) {
			hd.Set(k, v)
		} else {
			// Names are stored lowercase (putOptions), as S3 keeps them.
			setAmzHeader(hd, "x-amz-meta-"+k, v)
		}
	}
}

// overrideParams maps GetObject's response-* parameters to the headers they
// set.
var overrideParams = [][2]string{
	{"response-content-type", "Content-Type"}, {"response-content-language", "Content-Language"},
	{"response-expires", "Expires"}, {"response-cache-control", "Cache-Control"},
	{"response-content-disposition", "Content-Disposition"}, {"response-content-encoding", "Content-Encoding"},
}

// responseOverrides reads the response-* query parameters of GetObject.
// Every s3fed request is signed, which is S3's condition for honouring them.
func responseOverrides(q map[string][]string) (map[string]string, error) {
	var out map[string]string
	for _, o := range overrideParams {
		param, header := o[0], o[1]
		vs, ok := q[param]
		if !ok || len(vs) == 0 {
			continue
		}
		if strings.ContainsAny(vs[0], "\r\n") {
			return nil, errInvalidArgument("The " + param + " parameter must not contain line breaks.")
		}
		if out == nil {
			out = map[string]string{}
		}
		out[header] = vs[0]
	}
	return out, nil
}

// evalConditions applies If-Match, If-Unmodified-Since, If-None-Match and
// If-Modified-Since with S3's (RFC 7232's) precedence: If-Match wins over
// If-Unmodified-Since, If-None-Match over If-Modified-Since. It returns 0,
// 412 or 304.
func evalConditions(h http.Header, info storage.ObjectInfo) int {
	lm := info.LastModified.Truncate(time.Second)
	if im := h.Get("If-Match"); im != "" {
		if !etagMatches(im, info.ETag) {
			return http.StatusPreconditionFailed
		}
	} else if ius := h.Get("If-Unmodified-Since"); ius != "" {
		if t, err := http.ParseTime(ius); err == nil && lm.After(t) {
			return http.StatusPreconditionFailed
		}
	}
	if inm := h.Get("If-None-Match"); inm != "" {
		if etagMatches(inm, info.ETag) {
			return http.StatusNotModified
		}
	} else if ims := h.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !lm.After(t) {
			return http.StatusNotModified
		}
	}
	return 0
}

// etagMatches reports whether a comma-separated If-Match style list names
// etag (or is "*").
func etagMatches(list, etag string) bool {
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if e == "*" || unquoteETag(e) == etag {
			return true
		}
	}
	return false
}

// parseRange resolves a single-range Range header against size. A header
// that is not a valid single byte range is ignored (the whole object is
// served, as S3 does); ok is false only when it is valid but unsatisfiable.
func parseRange(h string, size int64) (*storage.Range, bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return nil, true
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return nil, true
	}
	if first == "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return nil, true
		}
		if n == 0 || size == 0 {
			return nil, false
		}
		if n > size {
			n = size
		}
		return &storage.Range{Start: size - n, Length: n}, true
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return nil, true
	}
	end := size - 1
	if last != "" {
		e, err := strconv.ParseInt(last, 10, 64)
		if err != nil || e < start {
			return nil, true
		}
		if e < end {
			end = e
		}
	}
	if start >= size {
		return nil, false
	}
	return &storage.Range{Start: start, Length: end - start + 1}, true
}

func (rq *request) deleteObject() error {
	if err := rq.s.backend.DeleteObject(rq.ctx, rq.bucket, rq.key); err != nil {
		return fmt.Errorf("delete object: %w", err)
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

// hasIntegrityHeader reports whether a request carries Content-MD5 or a
// flexible checksum (header or trailer), which S3 requires on DeleteObjects.
func hasIntegrityHeader(h http.Header) bool {
	if h.Get("Content-MD5") != "" || h.Get("x-amz-sdk-checksum-algorithm") != "" || h.Get("x-amz-trailer") != "" {
		return true
	}
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-checksum-") {
			return true
		}
	}
	return false
}

// deleteObjects deletes up to MaxDeleteObjects keys, each authorised (and
// audited) on its own.
func (rq *request) deleteObjects() error {
	if !hasIntegrityHeader(rq.r.Header) {
		return errInvalidRequest("Missing required header for this request: Content-MD5 (or an x-amz-checksum-* header).")
	}
	var req deleteRequest
	if _, err := rq.readXMLBody(&req, MaxXMLBodySize, false); err != nil {
		return err
	}
	if len(req.Objects) == 0 {
		return errMalformedXML("The Delete document names no Object.")
	}
	if len(req.Objects) > MaxDeleteObjects {
		return errMalformedXML("The Delete document names more than " + strconv.Itoa(MaxDeleteObjects) + " objects.")
	}
	// The bucket must exist; a missing one is NoSuchBucket only for a caller
	// allowed to delete the first key.
	rec, _, err := rq.lookupBucket(rq.bucket)
	if errors.Is(err, ErrNoSuchBucket) {
		return rq.authorize(actDeleteObject, rq.bucket, req.Objects[0].Key, "")
	} else if err != nil {
		return fmt.Errorf("look up bucket: %w", err)
	}
	if err := checkExpectedOwner(rq.r.Header.Get("x-amz-expected-bucket-owner"), rec.OrgID); err != nil {
		return err
	}
	// Decide every key first, then delete the allowed ones (in one backend
	// commit when the backend can batch), then answer in request order.
	type outcome struct {
		ev        AccessEvent
		code, msg string
	}
	outs := make([]outcome, len(req.Objects))
	var allowed []string
	var allowedIdx []int
	for i, o := range req.Objects {
		out := &outs[i]
		out.ev = rq.ev
		// An entry naming a version is authorised as IAM names it.
		action := actDeleteObject
		if o.VersionID != "" {
			action = actDeleteObjectVersion
		}
		out.ev.Action = action
		out.ev.Resource = resourceOf(rq.bucket, o.Key)
		switch {
		case o.Key == "":
			out.code, out.msg = "UserKeyMustBeSpecified", "The Delete document has an Object without a Key."
		case len(o.Key) > MaxKeyLength:
			out.code, out.msg = "KeyTooLongError", "Your key is too long"
		default:
			d, foreign, _, err := rq.decide(action, rq.bucket, o.Key, "")
			if err != nil {
				return err
			}
			out.ev.Statement = d.Statement
			if !d.Allowed {
				ae := deniedError(d, foreign)
				out.code, out.msg = ae.Code, ae.Message
				continue
			}
			out.ev.Decision = "Allow"
			if o.VersionID != "" && o.VersionID != "null" {
				// The only version an unversioned bucket has is "null". AWS
				// answers another id in DeleteObjects with this entry error
				// (LocalStack's AWS-validated snapshot test_delete_objects,
				// "delete-object-wrong-version-id").
				out.code, out.msg = "NoSuchVersion", "The specified version does not exist."
				continue
			}
			allowed = append(allowed, o.Key)
			allowedIdx = append(allowedIdx, i)
		}
	}
	if len(allowed) > 0 {
		errs, err := rq.deleteKeys(allowed)
		if err != nil {
			return err
		}
		for j, derr := range errs {
			if derr == nil {
				continue
			}
			ae := toAPIError(derr)
			if ae.Status >= 500 {
				rq.s.log.Error("s3: delete in DeleteObjects failed", "request_id", rq.id, "err", derr)
			}
			outs[allowedIdx[j]].code, outs[allowedIdx[j]].msg = ae.Code, ae.Message
		}
	}
	res := deleteResult{}
	events := make([]AccessEvent, len(outs))
	for i, out := range outs {
		if out.code != "" {
			out.ev.ErrorCode = out.code
			res.Errors = append(res.Errors, deleteError{Key: req.Objects[i].Key, VersionID: req.Objects[i].VersionID, Code: out.code, Message: out.msg})
		} else if !req.Quiet {
			res.Deleted = append(res.Deleted, deletedElem{Key: req.Objects[i].Key, VersionID: req.Objects[i].VersionID})
		}
		events[i] = out.ev
	}
	if err := rq.writeXML(res); err != nil {
		return err
	}
	rq.suppressEv = true
	if rq.s.accessLog != nil {
		dur := rq.s.now().Sub(rq.start)
		for i := range events {
			events[i].Status = http.StatusOK
			events[i].Duration = dur
			if i == 0 {
				events[i].BytesIn = rq.body.n
				events[i].BytesOut = rq.w.n
			}
			rq.s.accessLog.LogAccess(rq.ctx, events[i])
		}
	}
	return nil
}

// BatchDeleter is an optional storage.Backend capability: deleting many keys
// of one bucket at once (the fs store does it in one index commit).
// DeleteObjects uses it when the backend has it. errs[i] is keys[i]'s
// outcome; err means nothing was deleted.
type BatchDeleter interface {
	DeleteObjects(ctx context.Context, bucket string, keys []string) (errs []error, err error)
}

// deleteKeys deletes keys, batched when the backend can.
func (rq *request) deleteKeys(keys []string) ([]error, error) {
	if bd, ok := rq.s.backend.(BatchDeleter); ok {
		errs, err := bd.DeleteObjects(rq.ctx, rq.bucket, keys)
		if err != nil {
			return nil, fmt.Errorf("delete objects: %w", err)
		}
		if len(errs) != len(keys) {
			return nil, fmt.Errorf("delete objects: backend answered %d outcomes for %d keys", len(errs), len(keys))
		}
		return errs, nil
	}
	errs := make([]error, len(keys))
	for i, k := range keys {
		errs[i] = rq.s.backend.DeleteObject(rq.ctx, rq.bucket, k)
	}
	return errs, nil
}

// parseCopySource splits x-amz-copy-source ("[/]bucket/key[?versionId=…]",
// URL-encoded) into bucket and key. versioned reports a versionId, which
// can only be "null" (the object itself: s3fed buckets are unversioned)
// and makes the source read s3:GetObjectVersion.
func parseCopySource(v string) (bucket, key string, versioned bool, err error) {
	path, query, _ := strings.Cut(v, "?")
	if query != "" {
		q, perr := url.ParseQuery(query)
		if perr != nil {
			return "", "", false, errInvalidArgument("x-amz-copy-source has an invalid query.")
		}
		if vid, ok := q["versionId"]; ok {
			if len(vid) != 1 || vid[0] != "null" {
				return "", "", false, errInvalidVersionID("", strings.Join(vid, ","))
			}
			versioned = true
		}
	}
	path, err = url.PathUnescape(path)
	if err != nil {
		return "", "", false, errInvalidArgument("x-amz-copy-source is not validly URL-encoded.")
	}
	path = strings.TrimPrefix(path, "/")
	bucket, key, _ = strings.Cut(path, "/")
	if bucket == "" || key == "" {
		return "", "", false, errInvalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	if !validBucketName(bucket) {
		return "", "", false, newError("InvalidBucketName", http.StatusBadRequest, "The specified copy source bucket is not valid.")
	}
	if len(key) > MaxKeyLength {
		return "", "", false, newError("KeyTooLongError", http.StatusBadRequest, "Your copy source key is too long")
	}
	return bucket, key, versioned, nil
}

// authorizeCopy parses the copy source and authorises s3:PutObject on the
// destination and s3:GetObject (s3:GetObjectVersion for a source naming a
// version) on the source. The access event records the denied action when
// one is denied, else the destination PUT.
func (rq *request) authorizeCopy() (srcBucket, srcKey string, err error) {
	srcBucket, srcKey, versioned, err := parseCopySource(rq.r.Header.Get("x-amz-copy-source"))
	if err != nil {
		return "", "", err
	}
	if err := rq.authorize(actPutObject, rq.bucket, rq.key, ""); err != nil {
		return "", "", err
	}
	readAction := actGetObject
	if versioned {
		readAction = actGetObjectVersion
	}
	d, foreign, missing, err := rq.decide(readAction, srcBucket, srcKey, "")
	if err != nil {
		return "", "", err
	}
	if exp := rq.r.Header.Get("x-amz-source-expected-bucket-owner"); exp != "" && d.Allowed && !missing {
		rec, _, err := rq.lookupBucket(srcBucket)
		if err != nil {
			return "", "", fmt.Errorf("look up copy source bucket: %w", err)
		}
		if err := checkExpectedOwner(exp, rec.OrgID); err != nil {
			return "", "", err
		}
	}
	if !d.Allowed {
		rq.ev.Action = readAction
		rq.ev.Resource = resourceOf(srcBucket, srcKey)
		rq.ev.Decision = "Deny"
		rq.ev.Statement = d.Statement
		return "", "", deniedError(d, foreign)
	}
	if missing {
		return "", "", errNoSuchBucket
	}
	return srcBucket, srcKey, nil
}

// checkCopyConditions applies x-amz-copy-source-if-* to the source; any
// failing condition is 412 PreconditionFailed, as on S3.
func checkCopyConditions(h http.Header, src storage.ObjectInfo) error {
	cond := http.Header{}
	for from, to := range map[string]string{
		"x-amz-copy-source-if-match": "If-Match", "x-amz-copy-source-if-none-match": "If-None-Match",
		"x-amz-copy-source-if-modified-since": "If-Modified-Since", "x-amz-copy-source-if-unmodified-since": "If-Unmodified-Since",
	} {
		if v := h.Get(from); v != "" {
			cond.Set(to, v)
		}
	}
	if len(cond) == 0 {
		return nil
	}
	if evalConditions(cond, src) != 0 {
		return errPrecondition
	}
	return nil
}

func hasCopyConditions(h http.Header) bool {
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-copy-source-if-") {
			return true
		}
	}
	return false
}

func (rq *request) copyObject() error {
	srcBucket, srcKey, err := rq.authorizeCopy()
	if err != nil {
		return err
	}
	h := rq.r.Header
	if err := checkWriteHeaders(h); err != nil {
		return err
	}
	if err := checkObjectACL(h); err != nil {
		return err
	}
	var checksum *storage.Checksum
	if v := h.Get("X-Amz-Checksum-Algorithm"); v != "" {
		algo := storage.ChecksumAlgorithm(v)
		if algo == "" {
			return errInvalidRequest("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
		}
		checksum = &storage.Checksum{Algorithm: algo, Type: storage.ChecksumTypeFullObject}
	}
	directive := strings.ToUpper(h.Get("x-amz-metadata-directive"))
	switch directive {
	case "", "COPY", "REPLACE":
	default:
		return errInvalidArgument("Unknown metadata directive.")
	}
	if srcBucket == rq.bucket && srcKey == rq.key && directive != "REPLACE" {
		return errInvalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	if err := rq.drainBody(0); err != nil {
		return err
	}
	if hasCopyConditions(h) {
		src, err := rq.s.backend.HeadObject(rq.ctx, srcBucket, srcKey)
		if err != nil {
			return fmt.Errorf("head copy source: %w", err)
		}
		if err := checkCopyConditions(h, src); err != nil {
			return err
		}
	}
	var opts *storage.PutOptions
	switch {
	case directive == "REPLACE":
		o, err := putOptions(h)
		if err != nil {
			return err
		}
		opts = &o
	case checksum != nil:
		// COPY with another checksum algorithm: the source's metadata,
		// passed on explicitly.
		src, err := rq.s.backend.HeadObject(rq.ctx, srcBucket, srcKey)
		if err != nil {
			return fmt.Errorf("head copy source: %w", err)
		}
		opts = &storage.PutOptions{ContentType: src.ContentType, Metadata: src.Metadata, Size: -1}
	}
	if opts != nil && checksum != nil {
		opts.Checksum = checksum
	}
	info, err := rq.s.backend.CopyObject(rq.ctx, srcBucket, srcKey, rq.bucket, rq.key, opts)
	if err != nil {
		return fmt.Errorf("copy object: %w", err)
	}
	return rq.writeXML(copyObjectResult{LastModified: isoTime(info.LastModified), ETag: quoteETag(info.ETag), checksumXML: checksumElems(info.Checksum)})
}
