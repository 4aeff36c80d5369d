// Package storage is the seam between the S3 front door and whatever holds the
// bytes: the embedded disk store (storage/fs) or an existing S3 cluster
// (storage/upstream, later).
//
// The interface speaks buckets, keys, byte streams and metadata only. S3 wire
// details (XML, headers, SigV4, status codes) stay in internal/s3, so a second
// backend is a second implementation, not a fork. Bucket ownership and bucket
// policies are s3fed state (internal/store), not backend state, because every
// replica in front of an upstream cluster must agree on them.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors every backend returns (wrapped or not) so the front door can map them
// to S3 error codes without knowing the backend.
var (
	ErrBucketNotFound      = errors.New("bucket not found")
	ErrBucketExists        = errors.New("bucket already exists")
	ErrBucketNotEmpty      = errors.New("bucket not empty")
	ErrObjectNotFound      = errors.New("object not found")
	ErrUploadNotFound      = errors.New("multipart upload not found")
	ErrInvalidPart         = errors.New("invalid part")
	ErrInvalidPartOrder    = errors.New("parts not in ascending order")
	ErrEntityTooSmall      = errors.New("part smaller than the minimum allowed size")
	ErrPreconditionFailed  = errors.New("precondition failed")
	ErrInvalidRange        = errors.New("range not satisfiable")
	ErrInvalidObjectName   = errors.New("invalid object name")
	ErrInvalidBucketName   = errors.New("invalid bucket name")
	ErrEntityTooLarge      = errors.New("entity too large")
	ErrIncompleteBody      = errors.New("body shorter than declared length")
	ErrChecksumMismatch    = errors.New("content checksum mismatch")
	ErrTooManyParts        = errors.New("too many parts")
	ErrObjectAlreadyExists = errors.New("object already exists")
)

// MinPartSize is S3's minimum size of every multipart part but the last.
const MinPartSize = 5 << 20

// MaxParts is S3's maximum part number.
const MaxParts = 10000

// BucketInfo describes one bucket as the backend knows it.
type BucketInfo struct {
	Name    string
	Created time.Time
}

// ObjectInfo is an object's stored metadata.
type ObjectInfo struct {
	Key          string
	Size         int64
	ETag         string // quoted-free hex MD5, or "hex-N" for multipart
	LastModified time.Time
	ContentType  string
	// Metadata holds user metadata (x-amz-meta-* without the prefix, lower
	// case keys) and the standard headers a client set on PUT that must come
	// back on GET (Content-Encoding, Content-Disposition, Cache-Control,
	// Content-Language, Expires), under their canonical header names.
	Metadata map[string]string
	// Checksum is the object's additional checksum, nil when it has none
	// (or the backend keeps none).
	Checksum *Checksum
	// PartsCount is the number of parts of an object made by multipart
	// upload, 0 for any other (or when the backend keeps no boundaries).
	PartsCount int
}

// PutOptions carry what a PUT sets besides the bytes.
type PutOptions struct {
	ContentType string
	Metadata    map[string]string
	// Size is the declared length, or -1 when unknown (aws-chunked decoded
	// length is always known). A body that ends early is ErrIncompleteBody
	// and nothing is committed.
	Size int64
	// IfNoneMatch makes the PUT fail with ErrPreconditionFailed when the key
	// exists (If-None-Match: *), decided atomically with the commit.
	IfNoneMatch bool
	// IfNoneMatchETag makes the PUT fail with ErrPreconditionFailed when the
	// key exists with this ETag (If-None-Match: "etag"), atomically.
	IfNoneMatchETag string
	// IfMatch makes the PUT fail unless the key exists with this ETag, or
	// with any when "*" (If-Match): ErrObjectNotFound when it does not
	// exist, ErrPreconditionFailed when the ETag differs; atomically.
	IfMatch string
	// Checksum asks the backend to keep an additional checksum: of
	// Checksum.Algorithm over the bytes (PutObject, CopyObject), or, on
	// CreateMultipartUpload, of that algorithm and Type for the upload's
	// parts and object. A Value given with a PUT must equal the computed
	// one (else ErrChecksumMismatch). nil keeps none.
	Checksum *Checksum
}

// Range is a resolved byte range [Start, Start+Length).
type Range struct {
	Start, Length int64
}

// ListOptions select a page of a bucket listing in key order.
type ListOptions struct {
	Prefix     string
	Delimiter  string
	StartAfter string // exclusive; also V1's Marker and a decoded V2 token
	MaxKeys    int    // 0 means 1000
}

// ListResult is one page of a listing. When Truncated, NextStartAfter is the
// last key or common prefix returned; passing it back continues the listing.
type ListResult struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	Truncated      bool
	NextStartAfter string
}

// Upload describes an in-progress multipart upload.
type Upload struct {
	UploadID  string
	Key       string
	Initiated time.Time
}

// PartInfo describes one uploaded part.
type PartInfo struct {
	PartNumber   int
	Size         int64
	ETag         string
	LastModified time.Time
	// Checksum is the part's checksum in its upload's algorithm, nil when
	// the upload has none.
	Checksum *Checksum
}

// CompletePart names a part the client wants in the final object.
type CompletePart struct {
	PartNumber int
	ETag       string
	// Checksum is the part's checksum as the client lists it ("" when it
	// lists none); a backend that keeps checksums refuses a different one
	// with ErrInvalidPart.
	Checksum string
}

// Backend stores buckets and objects. Every method that takes a reader must
// consume it fully before committing and must commit nothing if the reader
// returns an error: the front door verifies payload hashes and checksums in
// wrapping readers that fail at EOF, and relies on this to keep bad bodies out.
// Implementations must be safe for concurrent use.
type Backend interface {
	CreateBucket(ctx context.Context, bucket string) error
	DeleteBucket(ctx context.Context, bucket string) error
	HeadBucket(ctx context.Context, bucket string) (BucketInfo, error)
	ListBuckets(ctx context.Context) ([]BucketInfo, error)

	PutObject(ctx context.Context, bucket, key string, body io.Reader, opts PutOptions) (ObjectInfo, error)
	// GetObject returns the object's info and a reader over rng (the whole
	// object when rng is nil). The caller closes the reader.
	GetObject(ctx context.Context, bucket, key string, rng *Range) (ObjectInfo, io.ReadCloser, error)
	HeadObject(ctx context.Context, bucket, key string) (ObjectInfo, error)
	// DeleteObject succeeds when the key does not exist (S3 semantics).
	DeleteObject(ctx context.Context, bucket, key string) error
	ListObjects(ctx context.Context, bucket string, opts ListOptions) (ListResult, error)
	// CopyObject copies src to dst; when opts is nil the source's metadata
	// is kept (COPY), otherwise opts replaces it (REPLACE).
	CopyObject(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, opts *PutOptions) (ObjectInfo, error)

	CreateMultipartUpload(ctx context.Context, bucket, key string, opts PutOptions) (Upload, error)
	UploadPart(ctx context.Context, bucket, key, uploadID string, part int, body io.Reader, size int64) (PartInfo, error)
	// UploadPartCopy copies rng of src (whole object when nil) into a part.
	UploadPartCopy(ctx context.Context, bucket, key, uploadID string, part int, srcBucket, srcKey string, rng *Range) (PartInfo, error)
	CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletePart) (ObjectInfo, error)
	AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error
	// ListParts lists parts with numbers greater than marker, up to max.
	ListParts(ctx context.Context, bucket, key, uploadID string, marker, max int) (parts []PartInfo, truncated bool, err error)
	ListMultipartUploads(ctx context.Context, bucket string, prefix string) ([]Upload, error)
}
