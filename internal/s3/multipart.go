package s3

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/s3fed/s3fed/internal/storage"
)

func (rq *request) createMultipartUpload() error {
	h := rq.r.Header
	opts, err := putOptions(h)
	if err != nil {
		return err
	}
	if err := checkObjectACL(h); err != nil {
		return err
	}
	if opts.Checksum, err = uploadChecksum(h); err != nil {
		return err
	}
	if err := rq.drainBody(0); err != nil {
		return err
	}
	up, err := rq.s.backend.CreateMultipartUpload(rq.ctx, rq.bucket, rq.key, opts)
	if err != nil {
		return fmt.Errorf("create multipart upload: %w", err)
	}
	if cs := opts.Checksum; cs != nil {
		setAmzHeader(rq.w.Header(), "x-amz-checksum-algorithm", cs.Algorithm)
		setAmzHeader(rq.w.Header(), "x-amz-checksum-type", cs.Type)
	}
	return rq.writeXML(initiateMultipartUploadResult{Bucket: rq.bucket, Key: rq.key, UploadID: up.UploadID})
}

// partParams reads uploadId and partNumber (1..storage.MaxParts).
func (rq *request) partParams() (string, int, error) {
	id := rq.query.Get("uploadId")
	if id == "" {
		return "", 0, errNoSuchUpload
	}
	n, err := strconv.Atoi(rq.query.Get("partNumber"))
	if err != nil || n < 1 || n > storage.MaxParts {
		return "", 0, errInvalidArgument("Part number must be an integer between 1 and " + strconv.Itoa(storage.MaxParts) + ", inclusive")
	}
	return id, n, nil
}

func (rq *request) uploadPart() error {
	id, n, err := rq.partParams()
	if err != nil {
		return err
	}
	if err := checkWriteHeaders(rq.r.Header); err != nil {
		return err
	}
	body, size, err := rq.payload(MaxPartSize)
	if err != nil {
		return err
	}
	part, err := rq.s.backend.UploadPart(rq.ctx, rq.bucket, rq.key, id, n, body, size)
	if err != nil {
		return fmt.Errorf("upload part %d: %w", n, err)
	}
	rq.echoChecksums()
	if part.Checksum != nil && part.Checksum.Value != "" {
		setAmzHeader(rq.w.Header(), checksumHeader(part.Checksum.Algorithm), part.Checksum.Value)
	}
	rq.w.Header().Set("ETag", quoteETag(part.ETag))
	rq.w.Header().Set("Content-Length", "0")
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// parseCopyRange parses x-amz-copy-source-range ("bytes=first-last", both
// required) against the source size.
func parseCopyRange(v string, size int64) (*storage.Range, error) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	first, last, ok2 := strings.Cut(spec, "-")
	a, err1 := strconv.ParseInt(first, 10, 64)
	b, err2 := strconv.ParseInt(last, 10, 64)
	if !ok || !ok2 || err1 != nil || err2 != nil || a < 0 || b < a {
		return nil, errInvalidArgument("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	}
	if b >= size {
		return nil, errInvalidArgument("Range specified is not valid for source object of size: " + strconv.FormatInt(size, 10))
	}
	return &storage.Range{Start: a, Length: b - a + 1}, nil
}

func (rq *request) uploadPartCopy() error {
	srcBucket, srcKey, err := rq.authorizeCopy()
	if err != nil {
		return err
	}
	id, n, err := rq.partParams()
	if err != nil {
		return err
	}
	if err := checkWriteHeaders(rq.r.Header); err != nil {
		return err
	}
	if err := rq.drainBody(0); err != nil {
		return err
	}
	h := rq.r.Header
	var rng *storage.Range
	if rv := h.Get("x-amz-copy-source-range"); rv != "" || hasCopyConditions(h) {
		src, err := rq.s.backend.HeadObject(rq.ctx, srcBucket, srcKey)
		if err != nil {
			return fmt.Errorf("head copy source: %w", err)
		}
		if err := checkCopyConditions(h, src); err != nil {
			return err
		}
		if rv != "" {
			if rng, err = parseCopyRange(rv, src.Size); err != nil {
				return err
			}
		}
	}
	if rng != nil && rng.Length > MaxPartSize {
		return newError("EntityTooLarge", http.StatusBadRequest, "A copied part may be at most 5 GiB.")
	}
	part, err := rq.s.backend.UploadPartCopy(rq.ctx, rq.bucket, rq.key, id, n, srcBucket, srcKey, rng)
	if err != nil {
		return fmt.Errorf("upload part copy %d: %w", n, err)
	}
	return rq.writeXML(copyPartResult{LastModified: isoTime(part.LastModified), ETag: quoteETag(part.ETag), checksumXML: partChecksumElems(part.Checksum)})
}

func (rq *request) completeMultipartUpload() error {
	id := rq.query.Get("uploadId")
	h := rq.r.Header
	var copts storage.CompleteOptions
	if v := strings.TrimSpace(h.Get("If-None-Match")); v != "" {
		if v != "*" {
			v = unquoteETag(v)
		}
		copts.IfNoneMatch = v
	}
	if v := strings.TrimSpace(h.Get("If-Match")); v != "" {
		if v != "*" {
			v = unquoteETag(v)
		}
		copts.IfMatch = v
	}
	if strings.Contains(copts.IfMatch+copts.IfNoneMatch, ",") {
		return errNotImplemented("A conditional write names one ETag (or *) in If-Match and If-None-Match.")
	}
	var err error
	if copts.Checksum, err = objectChecksum(h); err != nil {
		return err
	}
	var doc completeMultipartUpload
	if _, err := rq.readXMLBody(&doc, MaxXMLBodySize, false); err != nil {
		return err
	}
	if len(doc.Parts) == 0 {
		return errMalformedXML("The CompleteMultipartUpload document names no Part.")
	}
	if len(doc.Parts) > storage.MaxParts {
		return errMalformedXML("The CompleteMultipartUpload document names more than " + strconv.Itoa(storage.MaxParts) + " parts.")
	}
	parts := make([]storage.CompletePart, len(doc.Parts))
	for i, p := range doc.Parts {
		if p.PartNumber < 1 || p.PartNumber > storage.MaxParts {
			return errInvalidArgument("Part number must be an integer between 1 and " + strconv.Itoa(storage.MaxParts) + ", inclusive")
		}
		// A part number may repeat (a part sent again); never go back.
		if i > 0 && p.PartNumber < doc.Parts[i-1].PartNumber {
			return toAPIError(storage.ErrInvalidPartOrder)
		}
		cs, err := p.partChecksumXML.value()
		if err != nil {
			return err
		}
		parts[i] = storage.CompletePart{PartNumber: p.PartNumber, ETag: unquoteETag(p.ETag), Checksum: cs}
	}
	var info storage.ObjectInfo
	if mc, ok := rq.s.backend.(storage.MultipartCompleter); ok {
		info, err = mc.CompleteMultipartUploadWith(rq.ctx, rq.bucket, rq.key, id, parts, copts)
	} else {
		if copts.IfMatch != "" || copts.IfNoneMatch != "" || copts.Checksum != nil {
			return errNotImplemented("This storage backend cannot complete a multipart upload with conditions or an object checksum.")
		}
		info, err = rq.s.backend.CompleteMultipartUpload(rq.ctx, rq.bucket, rq.key, id, parts)
	}
	if err != nil {
		if errors.Is(err, storage.ErrObjectNotFound) && copts.IfMatch != "" {
			return wrapErr(errNoSuchKey, err)
		}
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	return rq.writeXML(completeMultipartUploadResult{
		Location: rq.objectURL(), Bucket: rq.bucket, Key: rq.key, ETag: quoteETag(info.ETag),
		checksumXML: checksumElems(info.Checksum),
	})
}

// partChecksumElems is a part's checksum element (no type).
func partChecksumElems(cs *storage.Checksum) checksumXML {
	var c checksumXML
	if cs != nil && cs.Value != "" {
		c.set(cs.Algorithm, "", cs.Value)
	}
	return c
}

// objectURL is the object's URL on this listener, in the addressing style
// the request used.
func (rq *request) objectURL() string {
	scheme := "http"
	if rq.r.TLS != nil {
		scheme = "https"
	}
	path := (&url.URL{Path: rq.key}).EscapedPath()
	if rq.s.hostBucket(rq.r.Host) != "" {
		return scheme + "://" + rq.r.Host + "/" + path
	}
	return scheme + "://" + rq.r.Host + "/" + rq.bucket + "/" + path
}

func (rq *request) abortMultipartUpload() error {
	if err := rq.s.backend.AbortMultipartUpload(rq.ctx, rq.bucket, rq.key, rq.query.Get("uploadId")); err != nil {
		return fmt.Errorf("abort multipart upload: %w", err)
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rq *request) listParts() error {
	id := rq.query.Get("uploadId")
	maxParts, err := parseMaxInt(rq.query.Get("max-parts"), "max-parts", MaxKeys, MaxKeys)
	if err != nil {
		return err
	}
	marker, err := parseMaxInt(rq.query.Get("part-number-marker"), "part-number-marker", 0, storage.MaxParts)
	if err != nil {
		return err
	}
	var parts []storage.PartInfo
	truncated := false
	if maxParts > 0 {
		parts, truncated, err = rq.s.backend.ListParts(rq.ctx, rq.bucket, rq.key, id, marker, maxParts)
		if err != nil {
			return fmt.Errorf("list parts: %w", err)
		}
	}
	owner := rq.ownerElem(rq.owner.OrgID)
	out := listPartsResult{
		Bucket: rq.bucket, Key: rq.key, UploadID: id, Initiator: owner, Owner: owner,
		StorageClass: "STANDARD", PartNumberMarker: marker, MaxParts: maxParts, IsTruncated: truncated,
	}
	for _, p := range parts {
		out.Parts = append(out.Parts, partElem{PartNumber: p.PartNumber, LastModified: isoTime(p.LastModified), ETag: quoteETag(p.ETag), Size: p.Size,
			checksumXML: partChecksumElems(p.Checksum)})
		if p.Checksum != nil && out.ChecksumAlgorithm == "" {
			out.ChecksumAlgorithm, out.ChecksumType = p.Checksum.Algorithm, p.Checksum.Type
		}
	}
	if len(parts) > 0 {
		out.NextPartNumberMarker = parts[len(parts)-1].PartNumber
	}
	return rq.writeXML(out)
}
