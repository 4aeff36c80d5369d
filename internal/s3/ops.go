package s3

import (
	"net/http"
	"net/url"
	"strings"
)

// op is one identified S3 operation: its IAM action and its handler.
type op struct {
	name   string
	action string
	// selfAuthz operations authorise inside the handler (DeleteObjects per
	// key; CopyObject and UploadPartCopy also read a source).
	selfAuthz bool
	handler   func(*request) error
}

// IAM action names, as IAM spells them.
const (
	actListAllMyBuckets           = "s3:ListAllMyBuckets"
	actCreateBucket               = "s3:CreateBucket"
	actDeleteBucket               = "s3:DeleteBucket"
	actListBucket                 = "s3:ListBucket"
	actListBucketVersions         = "s3:ListBucketVersions"
	actGetBucketLocation          = "s3:GetBucketLocation"
	actGetBucketVersioning        = "s3:GetBucketVersioning"
	actGetBucketAcl               = "s3:GetBucketAcl"
	actGetObjectAcl               = "s3:GetObjectAcl"
	actGetObjectVersionAcl        = "s3:GetObjectVersionAcl"
	actGetObject                  = "s3:GetObject"
	actGetObjectVersion           = "s3:GetObjectVersion"
	actPutObject                  = "s3:PutObject"
	actDeleteObject               = "s3:DeleteObject"
	actDeleteObjectVersion        = "s3:DeleteObjectVersion"
	actAbortMultipartUpload       = "s3:AbortMultipartUpload"
	actListMultipartUploadParts   = "s3:ListMultipartUploadParts"
	actListBucketMultipartUploads = "s3:ListBucketMultipartUploads"
	actGetBucketPolicy            = "s3:GetBucketPolicy"
	actPutBucketPolicy            = "s3:PutBucketPolicy"
	actDeleteBucketPolicy         = "s3:DeleteBucketPolicy"
	actPutBucketAcl               = "s3:PutBucketAcl"
	actPutObjectAcl               = "s3:PutObjectAcl"
	actPutObjectVersionAcl        = "s3:PutObjectVersionAcl"
	actGetObjectAttributes        = "s3:GetObjectAttributes"
	actGetObjectVersionAttributes = "s3:GetObjectVersionAttributes"
	actGetBucketPublicAccessBlock = "s3:GetBucketPublicAccessBlock"
	// DeletePublicAccessBlock is authorised as IAM does, with the Put action.
	actPutBucketPublicAccessBlock = "s3:PutBucketPublicAccessBlock"
	actGetBucketPolicyStatus      = "s3:GetBucketPolicyStatus"
)

// unsupportedSubresources are S3 subresources s3fed does not implement; a
// request naming one answers NotImplemented instead of silently acting as
// the plain operation (GET ?tagging must not return the object).
var unsupportedSubresources = map[string]bool{
	"accelerate": true, "analytics": true, "cors": true, "encryption": true,
	"intelligent-tiering": true, "inventory": true, "legal-hold": true, "lifecycle": true,
	"logging": true, "metrics": true, "notification": true, "object-lock": true,
	"ownershipControls": true,
	"replication":       true, "requestPayment": true, "restore": true, "retention": true,
	"select": true, "select-type": true, "tagging": true, "torrent": true,
	"website": true, "renameObject": true, "session": true, "metadataTable": true,
	"metadataConfiguration": true, "abac": true,
}

// knownParams are query parameters s3fed understands (subresources it
// implements and operation parameters). An unknown parameter with an empty
// value looks like a subresource and answers NotImplemented.
var knownParams = map[string]bool{
	"uploads": true, "uploadId": true, "partNumber": true, "delete": true, "policy": true,
	"location": true, "list-type": true, "versioning": true, "acl": true, "prefix": true,
	"delimiter": true, "max-keys": true, "marker": true, "continuation-token": true,
	"start-after": true, "encoding-type": true, "fetch-owner": true, "key-marker": true,
	"upload-id-marker": true, "max-uploads": true, "max-parts": true,
	"part-number-marker": true, "versionId": true, "x-id": true,
	"allow-unordered": true, "max-buckets": true, "bucket-region": true,
	"versions": true, "version-id-marker": true, "attributes": true, "policyStatus": true,
	"publicAccessBlock": true,
}

// identify maps method + subresources to an operation. bucket == "" is the
// service (ListBuckets); key == "" is the bucket.
func identify(method, bucket, key string, q url.Values, h http.Header) (op, error) {
	for k, v := range q {
		if unsupportedSubresources[k] {
			return op{}, errNotImplemented("The " + k + " subresource is not implemented by s3fed.")
		}
		if knownParams[k] || strings.HasPrefix(k, "response-") || strings.HasPrefix(strings.ToLower(k), "x-amz-") {
			continue
		}
		if len(v) == 1 && v[0] == "" {
			return op{}, errNotImplemented("The " + k + " subresource is not implemented by s3fed.")
		}
	}
	has := func(k string) bool { _, ok := q[k]; return ok }
	// s3fed buckets are unversioned: each object is its "null" version.
	// versionId=null addresses it (authorised as the version action IAM
	// names for any request with a versionId); any other id is AWS's answer
	// for an unversioned bucket.
	versioned := has("versionId")
	if v := q.Get("versionId"); versioned && v != "null" {
		return op{}, errInvalidVersionID("versionId", v)
	}
	pick := func(plain, version string) string {
		if versioned {
			return version
		}
		return plain
	}
	if bucket == "" {
		switch method {
		case http.MethodGet:
			return op{name: "ListBuckets", action: actListAllMyBuckets, handler: (*request).listBuckets}, nil
		}
		return op{}, errMethodNotAllowed()
	}
	copySource := h.Get("x-amz-copy-source") != ""
	if key == "" {
		switch method {
		case http.MethodGet:
			switch {
			case has("policy"):
				return op{name: "GetBucketPolicy", action: actGetBucketPolicy, handler: (*request).getBucketPolicy}, nil
			case has("location"):
				return op{name: "GetBucketLocation", action: actGetBucketLocation, handler: (*request).getBucketLocation}, nil
			case has("versioning"):
				return op{name: "GetBucketVersioning", action: actGetBucketVersioning, handler: (*request).getBucketVersioning}, nil
			case has("versions"):
				return op{name: "ListObjectVersions", action: actListBucketVersions, handler: (*request).listObjectVersions}, nil
			case has("acl"):
				return op{name: "GetBucketAcl", action: actGetBucketAcl, handler: (*request).getACL}, nil
			case has("publicAccessBlock"):
				return op{name: "GetPublicAccessBlock", action: actGetBucketPublicAccessBlock, handler: (*request).getPublicAccessBlock}, nil
			case has("policyStatus"):
				return op{name: "GetBucketPolicyStatus", action: actGetBucketPolicyStatus, handler: (*request).getBucketPolicyStatus}, nil
			case has("uploads"):
				return op{name: "ListMultipartUploads", action: actListBucketMultipartUploads, handler: (*request).listMultipartUploads}, nil
			case has("list-type"):
				if q.Get("list-type") != "2" {
					return op{}, errInvalidArgument("Invalid list-type; only 2 is supported (omit it for ListObjects V1).")
				}
				return op{name: "ListObjectsV2", action: actListBucket, handler: (*request).listObjectsV2}, nil
			}
			return op{name: "ListObjects", action: actListBucket, handler: (*request).listObjectsV1}, nil
		case http.MethodHead:
			return op{name: "HeadBucket", action: actListBucket, handler: (*request).headBucket}, nil
		case http.MethodPut:
			switch {
			case has("policy"):
				return op{name: "PutBucketPolicy", action: actPutBucketPolicy, handler: (*request).putBucketPolicy}, nil
			case has("versioning"):
				// Suspended is refused too: AWS would then report Suspended,
				// and s3fed keeps no versioning state to report it from.
				return op{}, errNotImplemented("s3fed keeps no object versions: its buckets are unversioned (GetBucketVersioning shows no status) and versioning cannot be enabled or suspended.")
			case has("acl"):
				return op{name: "PutBucketAcl", action: actPutBucketAcl, handler: (*request).putACL}, nil
			case has("publicAccessBlock"):
				return op{name: "PutPublicAccessBlock", action: actPutBucketPublicAccessBlock, handler: (*request).putPublicAccessBlock}, nil
			}
			return op{name: "CreateBucket", action: actCreateBucket, handler: (*request).createBucket}, nil
		case http.MethodDelete:
			if has("policy") {
				return op{name: "DeleteBucketPolicy", action: actDeleteBucketPolicy, handler: (*request).deleteBucketPolicy}, nil
			}
			if has("publicAccessBlock") {
				return op{name: "DeletePublicAccessBlock", action: actPutBucketPublicAccessBlock, handler: (*request).deletePublicAccessBlock}, nil
			}
			return op{name: "DeleteBucket", action: actDeleteBucket, handler: (*request).deleteBucket}, nil
		case http.MethodPost:
			if has("delete") {
				return op{name: "DeleteObjects", action: actDeleteObject, selfAuthz: true, handler: (*request).deleteObjects}, nil
			}
			if isMultipartForm(h) && len(q) == 0 {
				return op{name: "PostObject", action: actPutObject, selfAuthz: true, handler: (*request).postObject}, nil
			}
			return op{}, errNotImplemented("This POST request on a bucket is not implemented by s3fed (a browser upload is multipart/form-data).")
		}
		return op{}, errMethodNotAllowed()
	}
	switch method {
	case http.MethodGet, http.MethodHead:
		if method == http.MethodGet {
			switch {
			case has("uploadId"):
				return op{name: "ListParts", action: actListMultipartUploadParts, handler: (*request).listParts}, nil
			case has("acl"):
				return op{name: "GetObjectAcl", action: pick(actGetObjectAcl, actGetObjectVersionAcl), handler: (*request).getACL}, nil
			case has("attributes"):
				return op{name: "GetObjectAttributes", action: pick(actGetObjectAttributes, actGetObjectVersionAttributes), handler: (*request).getObjectAttributes}, nil
			}
			return op{name: "GetObject", action: pick(actGetObject, actGetObjectVersion), handler: (*request).getObject}, nil
		}
		return op{name: "HeadObject", action: pick(actGetObject, actGetObjectVersion), handler: (*request).getObject}, nil
	case http.MethodPut:
		switch {
		case has("acl"):
			return op{name: "PutObjectAcl", action: pick(actPutObjectAcl, actPutObjectVersionAcl), handler: (*request).putACL}, nil
		case has("uploadId") || has("partNumber"):
			if !has("uploadId") || !has("partNumber") {
				return op{}, errInvalidRequest("UploadPart needs both uploadId and partNumber.")
			}
			if copySource {
				return op{name: "UploadPartCopy", action: actPutObject, selfAuthz: true, handler: (*request).uploadPartCopy}, nil
			}
			return op{name: "UploadPart", action: actPutObject, handler: (*request).uploadPart}, nil
		case copySource:
			return op{name: "CopyObject", action: actPutObject, selfAuthz: true, handler: (*request).copyObject}, nil
		}
		return op{name: "PutObject", action: actPutObject, handler: (*request).putObject}, nil
	case http.MethodPost:
		switch {
		case has("uploads"):
			return op{name: "CreateMultipartUpload", action: actPutObject, handler: (*request).createMultipartUpload}, nil
		case has("uploadId"):
			return op{name: "CompleteMultipartUpload", action: actPutObject, handler: (*request).completeMultipartUpload}, nil
		}
		return op{}, errNotImplemented("This POST request on an object is not implemented by s3fed.")
	case http.MethodDelete:
		if has("uploadId") {
			return op{name: "AbortMultipartUpload", action: actAbortMultipartUpload, handler: (*request).abortMultipartUpload}, nil
		}
		return op{name: "DeleteObject", action: pick(actDeleteObject, actDeleteObjectVersion), handler: (*request).deleteObject}, nil
	}
	return op{}, errMethodNotAllowed()
}

func errMethodNotAllowed() *Error {
	return newError("MethodNotAllowed", http.StatusMethodNotAllowed, "The specified method is not allowed against this resource.")
}
