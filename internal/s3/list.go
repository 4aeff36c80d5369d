package s3

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/s3fed/s3fed/internal/storage"
)

// listParams are the listing parameters V1 and V2 share.
type listParams struct {
	prefix, delimiter string
	maxKeys           int
	urlEncode         bool
}

func (rq *request) listParams() (listParams, error) {
	var p listParams
	p.prefix = rq.query.Get("prefix")
	p.delimiter = rq.query.Get("delimiter")
	switch et := rq.query.Get("encoding-type"); et {
	case "":
	case "url":
		p.urlEncode = true
	default:
		return p, errInvalidArgument("Invalid Encoding Method specified in Request")
	}
	n, err := parseMaxInt(rq.query.Get("max-keys"), "max-keys", MaxKeys, MaxKeys)
	if err != nil {
		return p, err
	}
	p.maxKeys = n
	return p, nil
}

// enc applies encoding-type=url to a value of the answer.
func (p listParams) enc(s string) string {
	if p.urlEncode {
		return s3URLEncode(s)
	}
	return s
}

// list runs the backend listing; max-keys=0 answers an empty page without
// asking the backend (whose 0 means the default).
func (rq *request) list(p listParams, startAfter string) (storage.ListResult, error) {
	if p.maxKeys == 0 {
		if _, err := rq.s.backend.HeadBucket(rq.ctx, rq.bucket); err != nil {
			return storage.ListResult{}, fmt.Errorf("head bucket: %w", err)
		}
		return storage.ListResult{}, nil
	}
	res, err := rq.s.backend.ListObjects(rq.ctx, rq.bucket, storage.ListOptions{
		Prefix: p.prefix, Delimiter: p.delimiter, StartAfter: startAfter, MaxKeys: p.maxKeys,
	})
	if err != nil {
		return res, fmt.Errorf("list %q: %w", rq.bucket, err)
	}
	return res, nil
}

func (rq *request) contents(p listParams, objs []storage.ObjectInfo, withOwner bool) []objectElem {
	out := make([]objectElem, 0, len(objs))
	var owner *ownerXML
	if withOwner {
		o := rq.ownerElem(rq.owner.OrgID)
		owner = &o
	}
	for _, o := range objs {
		out = append(out, objectElem{
			Key: p.enc(o.Key), LastModified: isoTime(o.LastModified), ETag: quoteETag(o.ETag),
			Size: o.Size, StorageClass: "STANDARD", Owner: owner,
		})
	}
	return out
}

func prefixes(p listParams, cps []string) []commonPrefix {
	out := make([]commonPrefix, 0, len(cps))
	for _, c := range cps {
		out = append(out, commonPrefix{Prefix: p.enc(c)})
	}
	return out
}

// encodeToken makes ListObjectsV2's opaque continuation token.
func encodeToken(startAfter string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(startAfter))
}

func decodeToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(tok, "="))
	if err != nil || !utf8.Valid(b) {
		return "", errInvalidArgument("The continuation token provided is incorrect")
	}
	return string(b), nil
}

func (rq *request) listObjectsV2() error {
	p, err := rq.listParams()
	if err != nil {
		return err
	}
	startAfter := rq.query.Get("start-after")
	token, hasToken := rq.query["continuation-token"]
	from := startAfter
	if hasToken {
		if from, err = decodeToken(token[0]); err != nil {
			return err
		}
	}
	res, err := rq.list(p, from)
	if err != nil {
		return err
	}
	out := listBucketResultV2{
		Name: rq.bucket, Prefix: p.enc(p.prefix), Delimiter: p.enc(p.delimiter), MaxKeys: p.maxKeys,
		KeyCount: len(res.Objects) + len(res.CommonPrefixes), IsTruncated: res.Truncated,
		StartAfter:     p.enc(startAfter),
		Contents:       rq.contents(p, res.Objects, rq.query.Get("fetch-owner") == "true"),
		CommonPrefixes: prefixes(p, res.CommonPrefixes),
	}
	if hasToken {
		// Echoed even when empty, as S3 does.
		out.ContinuationToken = &token[0]
	}
	if res.Truncated {
		out.NextContinuationToken = encodeToken(res.NextStartAfter)
	}
	if p.urlEncode {
		out.EncodingType = "url"
	}
	return rq.writeXML(out)
}

func (rq *request) listObjectsV1() error {
	p, err := rq.listParams()
	if err != nil {
		return err
	}
	marker := rq.query.Get("marker")
	res, err := rq.list(p, marker)
	if err != nil {
		return err
	}
	// V1 answers the Prefix as given even with encoding-type=url: S3 does,
	// and SDKs decode only Delimiter, Marker, NextMarker and the keys and
	// common prefixes of a V1 listing.
	out := listBucketResultV1{
		Name: rq.bucket, Prefix: p.prefix, Marker: p.enc(marker), MaxKeys: p.maxKeys,
		Delimiter: p.enc(p.delimiter), IsTruncated: res.Truncated,
		Contents:       rq.contents(p, res.Objects, true),
		CommonPrefixes: prefixes(p, res.CommonPrefixes),
	}
	if res.Truncated {
		out.NextMarker = p.enc(res.NextStartAfter)
	}
	if p.urlEncode {
		out.EncodingType = "url"
	}
	return rq.writeXML(out)
}

// nullVersion is the version id of every s3fed object: buckets are never
// versioned, so each object is its bucket's "null" version.
const nullVersion = "null"

// listObjectVersions answers ListObjectVersions for an unversioned bucket
// from the ordinary listing: every object once, as its "null" version and
// the latest one, no delete markers. key-marker continues after that key
// (its only version, "null", is the one a version-id-marker can name), so
// a page is exactly ListObjects' page after the same marker.
func (rq *request) listObjectVersions() error {
	// AWS checks max-keys first, then the markers, then encoding-type.
	if _, err := parseMaxInt(rq.query.Get("max-keys"), "max-keys", MaxKeys, MaxKeys); err != nil {
		return err
	}
	keyMarker := rq.query.Get("key-marker")
	vidMarker, hasVid := "", false
	if v, ok := rq.query["version-id-marker"]; ok {
		vidMarker, hasVid = v[0], true
	}
	if hasVid {
		switch {
		case vidMarker != "" && keyMarker == "":
			e := errInvalidArgument("A version-id marker cannot be specified without a key marker.")
			e.ArgumentName, e.ArgumentValue = "version-id-marker", vidMarker
			return e
		case vidMarker == "":
			return errInvalidArgument("A version-id marker cannot be empty.")
		case vidMarker != nullVersion:
			return errInvalidVersionID("version-id-marker", vidMarker)
		}
	}
	p, err := rq.listParams()
	if err != nil {
		return err
	}
	res, err := rq.list(p, keyMarker)
	if err != nil {
		return err
	}
	out := listVersionsResult{
		Name: rq.bucket, Prefix: p.enc(p.prefix), KeyMarker: p.enc(keyMarker), VersionIDMarker: vidMarker,
		MaxKeys: p.maxKeys, Delimiter: p.enc(p.delimiter), IsTruncated: res.Truncated,
		Versions:       make([]versionElem, 0, len(res.Objects)),
		CommonPrefixes: prefixes(p, res.CommonPrefixes),
	}
	owner := rq.ownerElem(rq.owner.OrgID)
	for _, o := range res.Objects {
		out.Versions = append(out.Versions, versionElem{
			Key: p.enc(o.Key), VersionID: nullVersion, IsLatest: true, LastModified: isoTime(o.LastModified),
			ETag: quoteETag(o.ETag), Size: o.Size, StorageClass: "STANDARD", Owner: owner,
		})
	}
	if res.Truncated {
		// The next page starts after the last entry. A page ending on a
		// common prefix has no version marker, as on AWS (LocalStack's
		// AWS-validated snapshot test_list_object_versions_pagination_common_prefixes).
		out.NextKeyMarker = p.enc(res.NextStartAfter)
		if n := len(res.Objects); n > 0 && res.Objects[n-1].Key == res.NextStartAfter {
			out.NextVersionIDMarker = nullVersion
		}
	}
	if p.urlEncode {
		out.EncodingType = "url"
	}
	return rq.writeXML(out)
}

// listMultipartUploads pages the backend's uploads (all of them under the
// prefix) by key-marker/upload-id-marker and folds keys under a delimiter.
func (rq *request) listMultipartUploads() error {
	p, err := rq.listParams()
	if err != nil {
		return err
	}
	maxUploads, err := parseMaxInt(rq.query.Get("max-uploads"), "max-uploads", MaxKeys, MaxKeys)
	if err != nil {
		return err
	}
	keyMarker := rq.query.Get("key-marker")
	idMarker := rq.query.Get("upload-id-marker")
	ups, err := rq.s.backend.ListMultipartUploads(rq.ctx, rq.bucket, p.prefix)
	if err != nil {
		return fmt.Errorf("list uploads of %q: %w", rq.bucket, err)
	}
	sort.Slice(ups, func(i, j int) bool {
		if ups[i].Key != ups[j].Key {
			return ups[i].Key < ups[j].Key
		}
		return ups[i].UploadID < ups[j].UploadID
	})
	out := listMultipartUploadsResult{
		Bucket: rq.bucket, KeyMarker: p.enc(keyMarker), UploadIDMarker: idMarker,
		Prefix: p.enc(p.prefix), Delimiter: p.enc(p.delimiter), MaxUploads: maxUploads,
	}
	if p.urlEncode {
		out.EncodingType = "url"
	}
	owner := rq.ownerElem(rq.owner.OrgID)
	seen := map[string]bool{}
	count := 0
	var lastKey, lastID string
	for _, u := range ups {
		if !strings.HasPrefix(u.Key, p.prefix) {
			continue
		}
		if keyMarker != "" {
			if u.Key < keyMarker || (u.Key == keyMarker && (idMarker == "" || u.UploadID <= idMarker)) {
				continue
			}
			// A marker that is a common prefix skips everything under it.
			if p.delimiter != "" && strings.HasSuffix(keyMarker, p.delimiter) && strings.HasPrefix(u.Key, keyMarker) {
				continue
			}
		}
		if p.delimiter != "" {
			if i := strings.Index(u.Key[len(p.prefix):], p.delimiter); i >= 0 {
				cp := u.Key[:len(p.prefix)+i+len(p.delimiter)]
				if seen[cp] {
					continue
				}
				if count == maxUploads {
					out.IsTruncated = true
					break
				}
				seen[cp] = true
				out.CommonPrefixes = append(out.CommonPrefixes, commonPrefix{Prefix: p.enc(cp)})
				count++
				lastKey, lastID = cp, ""
				continue
			}
		}
		if count == maxUploads {
			out.IsTruncated = true
			break
		}
		out.Uploads = append(out.Uploads, uploadElem{
			Key: p.enc(u.Key), UploadID: u.UploadID, Initiator: owner, Owner: owner,
			StorageClass: "STANDARD", Initiated: isoTime(u.Initiated),
		})
		count++
		lastKey, lastID = u.Key, u.UploadID
	}
	if out.IsTruncated {
		out.NextKeyMarker = p.enc(lastKey)
		out.NextUploadIDMarker = lastID
	}
	return rq.writeXML(out)
}
