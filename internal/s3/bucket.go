package s3

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/s3fed/s3fed/internal/storage"
)

// ownerElem is the Owner element for an org.
func (rq *request) ownerElem(org string) ownerXML {
	return ownerXML{ID: org, DisplayName: org}
}

// MaxBuckets is the largest max-buckets a ListBuckets page may ask for.
const MaxBuckets = 10000

// listBuckets answers ListBuckets with the caller's org's buckets only,
// filtered by prefix (and bucket-region, which is always this one) and paged
// by max-buckets/continuation-token as current SDKs ask.
func (rq *request) listBuckets() error {
	recs, err := rq.s.buckets.List(rq.ctx, rq.ident.OrgID)
	if err != nil {
		return fmt.Errorf("list buckets of org %q: %w", rq.ident.OrgID, err)
	}
	prefix := rq.query.Get("prefix")
	limit, err := parseMaxInt(rq.query.Get("max-buckets"), "max-buckets", MaxBuckets, MaxBuckets)
	if err != nil {
		return err
	}
	if _, ok := rq.query["max-buckets"]; ok && limit == 0 {
		return errInvalidArgument("max-buckets must be between 1 and " + strconv.Itoa(MaxBuckets))
	}
	after := ""
	if tok, ok := rq.query["continuation-token"]; ok {
		if after, err = decodeToken(tok[0]); err != nil {
			return err
		}
	}
	res := listAllMyBucketsResult{Owner: rq.ownerElem(rq.ident.OrgID), Buckets: []bucketElem{}, Prefix: prefix}
	if br := rq.query.Get("bucket-region"); br != "" && br != rq.s.region {
		recs = nil
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Name < recs[j].Name })
	for _, b := range recs {
		if !strings.HasPrefix(b.Name, prefix) || b.Name <= after {
			continue
		}
		if len(res.Buckets) == limit {
			res.ContinuationToken = encodeToken(res.Buckets[len(res.Buckets)-1].Name)
			break
		}
		res.Buckets = append(res.Buckets, bucketElem{Name: b.Name, CreationDate: isoTime(b.Created), BucketRegion: rq.s.region})
	}
	return rq.writeXML(res)
}

// createBucket claims the name in the state store, then creates it in the
// backend. A backend that already has the bucket (an upstream cluster's
// existing bucket, or a store rebuilt from disk) is adopted.
func (rq *request) createBucket() error {
	var cfg createBucketConfiguration
	empty, err := rq.readXMLBody(&cfg, 64<<10, true)
	if err != nil {
		return err
	}
	if !empty && cfg.LocationConstraint != "" && cfg.LocationConstraint != rq.s.region {
		return newError("IllegalLocationConstraintException", http.StatusBadRequest,
			"The "+cfg.LocationConstraint+" location constraint is incompatible with the region "+rq.s.region+" this endpoint serves.")
	}
	if err := checkBucketACL(rq.r.Header); err != nil {
		return err
	}
	if err := checkObjectOwnership(rq.r.Header); err != nil {
		return err
	}
	pab := defaultPublicAccessBlock
	rec := BucketRecord{Name: rq.bucket, OrgID: rq.ident.OrgID, CreatedBy: rq.ident.PrincipalName, Created: rq.s.now().UTC(), PublicAccessBlock: &pab}
	if err := rq.s.buckets.Create(rq.ctx, rec); err != nil {
		if errors.Is(err, ErrBucketExists) {
			if existing, _, oerr := rq.s.buckets.Owner(rq.ctx, rq.bucket); oerr == nil && existing.OrgID == rq.ident.OrgID {
				if rq.s.region == "us-east-1" {
					// S3's legacy us-east-1 answer to recreating your own
					// bucket: success, and nothing changes.
					rq.w.Header().Set("Location", "/"+rq.bucket)
					rq.w.Header().Set("Content-Length", "0")
					rq.w.WriteHeader(http.StatusOK)
					return nil
				}
				return newError("BucketAlreadyOwnedByYou", http.StatusConflict,
					"Your previous request to create the named bucket succeeded and you already own it.")
			}
			return newError("BucketAlreadyExists", http.StatusConflict,
				"The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.")
		}
		return fmt.Errorf("record bucket %q: %w", rq.bucket, err)
	}
	if err := rq.s.backend.CreateBucket(rq.ctx, rq.bucket); err != nil && !errors.Is(err, storage.ErrBucketExists) {
		if derr := rq.s.buckets.Delete(rq.ctx, rq.bucket); derr != nil {
			rq.s.log.Error("s3: cannot roll back bucket record after backend failure", "bucket", rq.bucket, "err", derr)
		}
		return fmt.Errorf("create bucket %q in backend: %w", rq.bucket, err)
	}
	rq.w.Header().Set("Location", "/"+rq.bucket)
	rq.w.Header().Set("Content-Length", "0")
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// deleteBucket removes the bucket from the backend (which refuses when it
// is not empty), then forgets its record and policy.
func (rq *request) deleteBucket() error {
	if err := rq.s.backend.DeleteBucket(rq.ctx, rq.bucket); err != nil && !errors.Is(err, storage.ErrBucketNotFound) {
		return fmt.Errorf("delete bucket %q: %w", rq.bucket, err)
	}
	if err := rq.s.buckets.Delete(rq.ctx, rq.bucket); err != nil {
		return fmt.Errorf("forget bucket %q: %w", rq.bucket, err)
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rq *request) headBucket() error {
	if _, err := rq.s.backend.HeadBucket(rq.ctx, rq.bucket); err != nil {
		return fmt.Errorf("head bucket %q: %w", rq.bucket, err)
	}
	setAmzHeader(rq.w.Header(), "x-amz-bucket-region", rq.s.region)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (rq *request) getBucketLocation() error {
	loc := rq.s.region
	if loc == "us-east-1" {
		loc = "" // S3 answers an empty constraint for us-east-1.
	}
	return rq.writeXML(locationConstraint{Value: loc})
}

func (rq *request) getBucketVersioning() error {
	return rq.writeXML(versioningConfiguration{})
}

// getACL answers the one ACL s3fed has: the owning org has FULL_CONTROL.
// Access is decided by policies, not ACLs.
func (rq *request) getACL() error {
	if rq.key != "" {
		if _, err := rq.s.backend.HeadObject(rq.ctx, rq.bucket, rq.key); err != nil {
			return fmt.Errorf("head object: %w", err)
		}
	}
	o := rq.ownerElem(rq.owner.OrgID)
	return rq.writeXML(accessControlPolicy{Owner: o, Grants: []grant{{
		Grantee:    grantee{XMLNS: "http://www.w3.org/2001/XMLSchema-instance", Type: "CanonicalUser", ID: o.ID, DisplayName: o.DisplayName},
		Permission: "FULL_CONTROL",
	}}})
}

func (rq *request) getBucketPolicy() error {
	if len(rq.policy) == 0 {
		return newError("NoSuchBucketPolicy", http.StatusNotFound, "The bucket policy does not exist")
	}
	h := rq.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(rq.policy)))
	rq.w.WriteHeader(http.StatusOK)
	_, _ = rq.w.Write(rq.policy)
	return nil
}

func (rq *request) putBucketPolicy() error {
	if rq.r.ContentLength > MaxPolicySize {
		return errPolicyTooLarge()
	}
	doc, err := io.ReadAll(io.LimitReader(rq.body, MaxPolicySize+1))
	if err != nil {
		return fmt.Errorf("read policy: %w", err)
	}
	if int64(len(doc)) > MaxPolicySize {
		return errPolicyTooLarge()
	}
	if !json.Valid(doc) {
		return newError("MalformedPolicy", http.StatusBadRequest, "Policies must be valid JSON.")
	}
	if !utf8.Valid(doc) {
		return newError("MalformedPolicy", http.StatusBadRequest, "Policies must be UTF-8 text.")
	}
	if rq.s.validate != nil {
		if err := rq.s.validate(rq.bucket, doc); err != nil {
			return newError("MalformedPolicy", http.StatusBadRequest, err.Error())
		}
	}
	if err := rq.refusePublicPolicy(doc); err != nil {
		return err
	}
	if err := rq.s.buckets.SetPolicy(rq.ctx, rq.bucket, doc); err != nil {
		return fmt.Errorf("store policy of %q: %w", rq.bucket, err)
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

func errPolicyTooLarge() *Error {
	return newError("MalformedPolicy", http.StatusBadRequest,
		"Policies must be at most "+strconv.FormatInt(MaxPolicySize, 10)+" bytes.")
}

func (rq *request) deleteBucketPolicy() error {
	if err := rq.s.buckets.DeletePolicy(rq.ctx, rq.bucket); err != nil {
		return fmt.Errorf("delete policy of %q: %w", rq.bucket, err)
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}
