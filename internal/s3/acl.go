package s3

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
)

// ACLs. s3fed decides access with policies only: every bucket behaves as an
// S3 bucket with Object Ownership "BucketOwnerEnforced" (ACLs disabled),
// which is what AWS gives every new bucket since April 2023. An ACL that
// means exactly that (private: the owner has full control) is accepted; any
// other is refused with AWS's answer for such a bucket, never stored and
// ignored. Granting anyone else access is a bucket policy's job.

// privateCannedACLs are the canned ACLs that grant nothing beyond the owning
// org's own access.
var privateCannedACLs = map[string]bool{"private": true, "bucket-owner-full-control": true}

// knownCannedACLs are S3's canned ACLs.
var knownCannedACLs = map[string]bool{
	"private": true, "public-read": true, "public-read-write": true, "aws-exec-read": true,
	"authenticated-read": true, "bucket-owner-read": true, "bucket-owner-full-control": true,
	"log-delivery-write": true,
}

func errACLNotSupported() *Error {
	return newError("AccessControlListNotSupported", http.StatusBadRequest, "The bucket does not allow ACLs")
}

// checkObjectACL applies the rule to the ACL headers of an object write
// (PutObject, CopyObject, CreateMultipartUpload, POST object).
func checkObjectACL(h http.Header) error {
	return checkACLHeaders(h, errACLNotSupported)
}

// checkBucketACL applies the rule to CreateBucket's ACL headers; AWS words
// the refusal differently there.
func checkBucketACL(h http.Header) error {
	return checkACLHeaders(h, func() *Error {
		return newError("InvalidBucketAclWithObjectOwnership", http.StatusBadRequest,
			"Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting")
	})
}

func checkACLHeaders(h http.Header, refuse func() *Error) error {
	if v, ok := h["X-Amz-Acl"]; ok {
		if err := checkCannedACL(strings.Join(v, ","), refuse); err != nil {
			return err
		}
	}
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-grant-") {
			return refuse()
		}
	}
	return nil
}

func checkCannedACL(acl string, refuse func() *Error) error {
	acl = strings.TrimSpace(acl)
	switch {
	case privateCannedACLs[acl]:
		return nil
	case knownCannedACLs[acl]:
		return refuse()
	}
	e := errInvalidArgument("The canned ACL " + truncate(acl, 64) + " is not one S3 defines.")
	e.ArgumentName, e.ArgumentValue = "x-amz-acl", truncate(acl, 64)
	return e
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// checkObjectOwnership reads CreateBucket's x-amz-object-ownership: s3fed
// buckets are always BucketOwnerEnforced; the ACL-based settings are
// features it does not have.
func checkObjectOwnership(h http.Header) error {
	switch v := h.Get("X-Amz-Object-Ownership"); v {
	case "", "BucketOwnerEnforced":
		return nil
	case "BucketOwnerPreferred", "ObjectWriter":
		return errNotImplemented("Object ownership " + v + " relies on ACLs, which s3fed does not keep; its buckets are BucketOwnerEnforced.")
	default:
		return errInvalidArgument("Invalid x-amz-object-ownership header: " + truncate(v, 64))
	}
}

// putACL serves PutBucketAcl and PutObjectAcl: an ACL that keeps the
// resource private (canned private or bucket-owner-full-control, or a
// document granting FULL_CONTROL to the owner only) is accepted and changes
// nothing; anything else is AccessControlListNotSupported.
func (rq *request) putACL() error {
	if rq.key != "" {
		if _, err := rq.s.backend.HeadObject(rq.ctx, rq.bucket, rq.key); err != nil {
			return fmt.Errorf("head object: %w", err)
		}
	}
	h := rq.r.Header
	_, canned := h["X-Amz-Acl"]
	var doc accessControlPolicyIn
	empty, err := rq.readXMLBody(&doc, 64<<10, true)
	if err != nil {
		return err
	}
	switch {
	case canned && !empty:
		return errInvalidRequest("Specify either x-amz-acl or an AccessControlPolicy document, not both.")
	case canned:
		if err := checkObjectACL(h); err != nil {
			return err
		}
	case !empty:
		if err := checkACLHeaders(h, errACLNotSupported); err != nil {
			return err
		}
		if !doc.ownerOnly(rq.owner.OrgID) {
			return errACLNotSupported()
		}
	default:
		if err := checkACLHeaders(h, errACLNotSupported); err != nil {
			return err
		}
		return errMalformedXML("PutBucketAcl and PutObjectAcl need x-amz-acl or an AccessControlPolicy document.")
	}
	rq.w.Header().Set("Content-Length", "0")
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// accessControlPolicyIn is a submitted AccessControlPolicy document.
type accessControlPolicyIn struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Owner   struct {
		ID string `xml:"ID"`
	} `xml:"Owner"`
	Grants []struct {
		Grantee struct {
			Type string `xml:"type,attr"`
			ID   string `xml:"ID"`
			URI  string `xml:"URI"`
		} `xml:"Grantee"`
		Permission string `xml:"Permission"`
	} `xml:"AccessControlList>Grant"`
}

// ownerOnly reports a document that grants FULL_CONTROL to owner and
// nothing to anyone else: what every s3fed resource has.
func (d accessControlPolicyIn) ownerOnly(owner string) bool {
	if d.Owner.ID != "" && d.Owner.ID != owner {
		return false
	}
	for _, g := range d.Grants {
		if g.Grantee.ID != owner || g.Grantee.URI != "" || g.Permission != "FULL_CONTROL" {
			return false
		}
	}
	return true
}
