package storage

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"strconv"
	"strings"
)

// S3's additional checksum algorithms, spelled as S3 names them in
// x-amz-checksum-algorithm and in its XML (ChecksumSHA256 …).
const (
	ChecksumCRC32     = "CRC32"
	ChecksumCRC32C    = "CRC32C"
	ChecksumCRC64NVME = "CRC64NVME"
	ChecksumSHA1      = "SHA1"
	ChecksumSHA256    = "SHA256"
)

// Checksum types: a FULL_OBJECT checksum is computed over the object's bytes;
// a COMPOSITE one (multipart only) is the checksum of the parts' checksums,
// written "VALUE-N" for N parts.
const (
	ChecksumTypeFullObject = "FULL_OBJECT"
	ChecksumTypeComposite  = "COMPOSITE"
)

// Checksum is an object's (or a part's) additional checksum, which a client
// asks for on upload and reads back on GET/HEAD with checksum mode, in
// CompleteMultipartUpload and in GetObjectAttributes: it is how an SDK
// checks end to end that the bytes it reads are the bytes it wrote, so a
// backend that keeps checksums must keep them exactly.
type Checksum struct {
	// Algorithm is one of the Checksum* constants.
	Algorithm string
	// Type is ChecksumTypeFullObject or ChecksumTypeComposite.
	Type string
	// Value is the base64 digest; a composite one ends in "-N". Empty in
	// options that only choose the algorithm (CreateMultipartUpload), or
	// when the backend is to compute it.
	Value string
}

// crc64NVMETable is CRC-64/NVME, S3's CRC64NVME (reversed polynomial, as
// hash/crc64 takes it).
var (
	crc32cTable    = crc32.MakeTable(crc32.Castagnoli)
	crc64NVMETable = crc64.MakeTable(0x9a6c9329ac4bc9b5)
)

// ChecksumAlgorithm returns the canonical name of an algorithm given in any
// case ("sha256", "SHA256"), or "" when S3 defines no such checksum.
func ChecksumAlgorithm(name string) string {
	switch u := strings.ToUpper(name); u {
	case ChecksumCRC32, ChecksumCRC32C, ChecksumCRC64NVME, ChecksumSHA1, ChecksumSHA256:
		return u
	}
	return ""
}

// NewChecksumHash returns a fresh hash for a canonical algorithm name, nil
// for an unknown one.
func NewChecksumHash(algorithm string) hash.Hash {
	switch algorithm {
	case ChecksumCRC32:
		return crc32.NewIEEE()
	case ChecksumCRC32C:
		return crc32.New(crc32cTable)
	case ChecksumCRC64NVME:
		return crc64.New(crc64NVMETable)
	case ChecksumSHA1:
		return sha1.New()
	case ChecksumSHA256:
		return sha256.New()
	}
	return nil
}

// DefaultChecksumType is the type a multipart upload gets when the client
// names only the algorithm: FULL_OBJECT for CRC64NVME (the only type it
// has), COMPOSITE for the others, as S3 does.
func DefaultChecksumType(algorithm string) string {
	if algorithm == ChecksumCRC64NVME {
		return ChecksumTypeFullObject
	}
	return ChecksumTypeComposite
}

// ValidMultipartChecksum reports whether S3 allows the algorithm with the
// type for a multipart upload: SHA checksums only as COMPOSITE, CRC64NVME
// only as FULL_OBJECT, CRC32 and CRC32C either way.
func ValidMultipartChecksum(algorithm, typ string) bool {
	switch typ {
	case ChecksumTypeComposite:
		return algorithm != ChecksumCRC64NVME
	case ChecksumTypeFullObject:
		return algorithm == ChecksumCRC32 || algorithm == ChecksumCRC32C || algorithm == ChecksumCRC64NVME
	}
	return false
}

// CompositeChecksum computes a COMPOSITE checksum from the parts' base64
// checksums: the algorithm over the concatenated decoded digests, then
// "-N". An undecodable part value is an error (ErrInvalidPart).
func CompositeChecksum(algorithm string, parts []string) (string, error) {
	h := NewChecksumHash(algorithm)
	if h == nil {
		return "", fmt.Errorf("composite checksum: unknown algorithm %q", algorithm)
	}
	for i, p := range parts {
		d, err := base64.StdEncoding.DecodeString(p)
		if err != nil || len(d) != h.Size() {
			return "", fmt.Errorf("%w: part %d has no valid %s checksum", ErrInvalidPart, i+1, algorithm)
		}
		h.Write(d)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)), nil
}

// ObjectPart is one part of a multipart object as stored: its number (1…N,
// in order), where it starts, its size, and its checksum value in the
// object's algorithm ("" when the object has none).
type ObjectPart struct {
	PartNumber int
	Offset     int64
	Size       int64
	Checksum   string
}

// ObjectPartLister is an optional Backend capability: reporting the part
// boundaries a multipart object was assembled from, so GET ?partNumber=N
// serves part N (as S3 does, and as parallel downloaders rely on) and
// GetObjectAttributes lists the parts. It returns the object's info and its
// parts in order; an object not made by multipart upload has none.
type ObjectPartLister interface {
	ObjectParts(ctx context.Context, bucket, key string) (ObjectInfo, []ObjectPart, error)
}

// CompleteOptions are what a CompleteMultipartUpload request adds to the
// part list: its conditions, decided atomically with the commit, and the
// object checksum the client expects.
type CompleteOptions struct {
	// IfMatch commits only when the key exists with this ETag ("*": with
	// any); ErrObjectNotFound when absent, ErrPreconditionFailed when the
	// ETag differs.
	IfMatch string
	// IfNoneMatch commits only when the key does not exist ("*") or its
	// ETag differs from this one; ErrPreconditionFailed otherwise.
	IfNoneMatch string
	// Checksum, when its Value is set, is the object checksum the client
	// computed; a different result is ErrChecksumMismatch and nothing is
	// committed.
	Checksum *Checksum
}

// MultipartCompleter is an optional Backend capability:
// CompleteMultipartUpload with conditions and an expected checksum. A
// backend that keeps checksums also answers a repeated completion of an
// upload it completed with the object it made, as S3 does, so an SDK that
// retries after a lost answer gets the same result instead of NoSuchUpload.
type MultipartCompleter interface {
	CompleteMultipartUploadWith(ctx context.Context, bucket, key, uploadID string, parts []CompletePart, opts CompleteOptions) (ObjectInfo, error)
}
