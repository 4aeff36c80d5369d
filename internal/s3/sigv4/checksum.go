package sigv4

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"strings"
)

// crc64NVMEPoly is the reversed CRC-64/NVME polynomial (the one the NVMe spec and S3's
// CRC64NVME checksum use), in the form hash/crc64.MakeTable takes; the same constant
// aws-sdk-go-v2's service/internal/checksum uses.
const crc64NVMEPoly = 0x9a6c9329ac4bc9b5

var (
	crc32cTable    = crc32.MakeTable(crc32.Castagnoli)
	crc64NVMETable = crc64.MakeTable(crc64NVMEPoly)
)

// checksumAlgo is one of S3's additional checksum algorithms, named as in the
// x-amz-checksum-NAME header and trailer.
type checksumAlgo struct {
	name string // lower-case suffix: crc32, crc32c, crc64nvme, sha1, sha256, sha512
	size int    // digest bytes
	new  func() hash.Hash
}

// checksumAlgos lists the algorithms S3 (and aws-sdk-go-v2) define for x-amz-checksum-*.
var checksumAlgos = []checksumAlgo{
	{"crc32", crc32.Size, func() hash.Hash { return crc32.NewIEEE() }},
	{"crc32c", crc32.Size, func() hash.Hash { return crc32.New(crc32cTable) }},
	{"crc64nvme", crc64.Size, func() hash.Hash { return crc64.New(crc64NVMETable) }},
	{"sha1", sha1.Size, sha1.New},
	{"sha256", sha256.Size, sha256.New},
	{"sha512", sha512.Size, sha512.New},
}

// checksumHeaderPrefix starts every S3 checksum header and trailer name.
const checksumHeaderPrefix = "x-amz-checksum-"

// nonValueChecksumHeaders are x-amz-checksum-* headers that configure checksums rather than
// carry a value.
var nonValueChecksumHeaders = []string{"algorithm", "type", "mode"}

// lookupChecksum finds the algorithm for a lower-case header or trailer name such as
// "x-amz-checksum-crc32". isValue is false for configuration headers (x-amz-checksum-type…)
// and names outside the x-amz-checksum- family; algo is nil for an unknown algorithm.
func lookupChecksum(name string) (algo *checksumAlgo, isValue bool) {
	if len(name) <= len(checksumHeaderPrefix) || !strings.EqualFold(name[:len(checksumHeaderPrefix)], checksumHeaderPrefix) {
		return nil, false
	}
	suffix := name[len(checksumHeaderPrefix):]
	for _, s := range nonValueChecksumHeaders {
		if strings.EqualFold(suffix, s) {
			return nil, false
		}
	}
	for i := range checksumAlgos {
		if strings.EqualFold(checksumAlgos[i].name, suffix) {
			return &checksumAlgos[i], true
		}
	}
	return nil, true
}

// md5Algo describes Content-MD5, checked by the same machinery.
var md5Algo = checksumAlgo{"md5", md5.Size, md5.New}
