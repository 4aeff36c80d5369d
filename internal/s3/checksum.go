package s3

import (
	"net/http"
	"strings"

	"github.com/s3fed/s3fed/internal/storage"
)

// S3's additional checksums on the wire. The SigV4 verifier checks every
// checksum a client sends against the bytes (header or trailer); the
// backend computes and keeps the checksum of the algorithm the request
// names, and the front door returns it where S3 does: on PUT and UploadPart
// answers, on GET/HEAD with x-amz-checksum-mode: ENABLED, in
// CompleteMultipartUpload, ListParts and GetObjectAttributes. A client can
// then check end to end that what it reads is what it wrote.

// checksumHeader is the x-amz-checksum-* header (and trailer) name of a
// canonical algorithm.
func checksumHeader(algo string) string { return "x-amz-checksum-" + strings.ToLower(algo) }

// requestChecksum returns the checksum algorithm a PUT or UploadPart asks
// for: the algorithm of its x-amz-checksum-* header or trailer, else of
// x-amz-sdk-checksum-algorithm (or x-amz-checksum-algorithm). nil when it
// asks for none. Conflicting or unknown algorithms are InvalidRequest.
func requestChecksum(h http.Header) (*storage.Checksum, error) {
	algo := ""
	set := func(a, from string) error {
		c := storage.ChecksumAlgorithm(a)
		if c == "" {
			return errInvalidRequest("Value for " + from + " header is invalid.")
		}
		if algo != "" && algo != c {
			return errInvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		algo = c
		return nil
	}
	for k := range h {
		lk := strings.ToLower(k)
		a, ok := strings.CutPrefix(lk, "x-amz-checksum-")
		if !ok || a == "algorithm" || a == "type" || a == "mode" {
			continue
		}
		if err := set(a, lk); err != nil {
			return nil, err
		}
	}
	for _, v := range h.Values("X-Amz-Trailer") {
		for _, name := range strings.Split(v, ",") {
			a, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(name)), "x-amz-checksum-")
			if ok {
				if err := set(a, "x-amz-trailer"); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, k := range []string{"X-Amz-Sdk-Checksum-Algorithm", "X-Amz-Checksum-Algorithm"} {
		if v := h.Get(k); v != "" {
			if err := set(v, strings.ToLower(k)); err != nil {
				return nil, err
			}
		}
	}
	if algo == "" {
		return nil, nil
	}
	return &storage.Checksum{Algorithm: algo, Type: storage.ChecksumTypeFullObject}, nil
}

// uploadChecksum reads CreateMultipartUpload's x-amz-checksum-algorithm and
// x-amz-checksum-type. nil when the upload asks for no checksum.
func uploadChecksum(h http.Header) (*storage.Checksum, error) {
	a, t := h.Get("X-Amz-Checksum-Algorithm"), strings.ToUpper(h.Get("X-Amz-Checksum-Type"))
	if a == "" {
		if t != "" {
			return nil, errInvalidRequest("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
		}
		return nil, nil
	}
	algo := storage.ChecksumAlgorithm(a)
	if algo == "" {
		return nil, errInvalidRequest("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
	}
	if t == "" {
		t = storage.DefaultChecksumType(algo)
	}
	if t != storage.ChecksumTypeFullObject && t != storage.ChecksumTypeComposite {
		return nil, errInvalidRequest("Value for x-amz-checksum-type header is invalid.")
	}
	if !storage.ValidMultipartChecksum(algo, t) {
		return nil, errInvalidRequest("The " + algo + " checksum algorithm does not support the " + t + " checksum type.")
	}
	return &storage.Checksum{Algorithm: algo, Type: t}, nil
}

// setChecksumHeaders sets x-amz-checksum-ALGO and x-amz-checksum-type.
func setChecksumHeaders(h http.Header, cs *storage.Checksum) {
	if cs == nil || cs.Algorithm == "" || cs.Value == "" {
		return
	}
	setAmzHeader(h, checksumHeader(cs.Algorithm), cs.Value)
	if cs.Type != "" {
		setAmzHeader(h, "x-amz-checksum-type", cs.Type)
	}
}

// checksumMode reports x-amz-checksum-mode: ENABLED, with which GET and
// HEAD return the object's checksum.
func checksumMode(h http.Header) bool {
	return strings.EqualFold(h.Get("X-Amz-Checksum-Mode"), "ENABLED")
}

// checksumXML is S3's set of checksum elements (ChecksumCRC32 …,
// ChecksumType), embedded in the documents that carry a checksum.
type checksumXML struct {
	ChecksumCRC32     string `xml:"ChecksumCRC32,omitempty"`
	ChecksumCRC32C    string `xml:"ChecksumCRC32C,omitempty"`
	ChecksumCRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
	ChecksumSHA1      string `xml:"ChecksumSHA1,omitempty"`
	ChecksumSHA256    string `xml:"ChecksumSHA256,omitempty"`
	ChecksumType      string `xml:"ChecksumType,omitempty"`
}

// set fills the element of algo with value (and the type, when given).
func (c *checksumXML) set(algo, typ, value string) {
	switch algo {
	case storage.ChecksumCRC32:
		c.ChecksumCRC32 = value
	case storage.ChecksumCRC32C:
		c.ChecksumCRC32C = value
	case storage.ChecksumCRC64NVME:
		c.ChecksumCRC64NVME = value
	case storage.ChecksumSHA1:
		c.ChecksumSHA1 = value
	case storage.ChecksumSHA256:
		c.ChecksumSHA256 = value
	default:
		return
	}
	c.ChecksumType = typ
}

func checksumElems(cs *storage.Checksum) checksumXML {
	var c checksumXML
	if cs != nil && cs.Value != "" {
		c.set(cs.Algorithm, cs.Type, cs.Value)
	}
	return c
}

// partChecksumXML is a Part's checksum elements in a
// CompleteMultipartUpload request (no ChecksumType there).
type partChecksumXML struct {
	ChecksumCRC32     string `xml:"ChecksumCRC32"`
	ChecksumCRC32C    string `xml:"ChecksumCRC32C"`
	ChecksumCRC64NVME string `xml:"ChecksumCRC64NVME"`
	ChecksumSHA1      string `xml:"ChecksumSHA1"`
	ChecksumSHA256    string `xml:"ChecksumSHA256"`
}

// value returns the one checksum the part lists ("" for none); several
// different ones are InvalidRequest.
func (p partChecksumXML) value() (string, error) {
	v := ""
	for _, c := range []string{p.ChecksumCRC32, p.ChecksumCRC32C, p.ChecksumCRC64NVME, p.ChecksumSHA1, p.ChecksumSHA256} {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if v != "" {
			return "", errInvalidRequest("A part of the CompleteMultipartUpload document lists more than one checksum.")
		}
		v = c
	}
	return v, nil
}

// objectChecksum reads the object checksum a CompleteMultipartUpload
// request expects (x-amz-checksum-ALGO), nil when none.
func objectChecksum(h http.Header) (*storage.Checksum, error) {
	var out *storage.Checksum
	for k, vs := range h {
		a, ok := strings.CutPrefix(strings.ToLower(k), "x-amz-checksum-")
		if !ok || a == "algorithm" || a == "type" || a == "mode" || len(vs) == 0 {
			continue
		}
		algo := storage.ChecksumAlgorithm(a)
		if algo == "" {
			return nil, errInvalidRequest("Value for " + strings.ToLower(k) + " header is invalid.")
		}
		if out != nil {
			return nil, errInvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		out = &storage.Checksum{Algorithm: algo, Type: strings.ToUpper(h.Get("X-Amz-Checksum-Type")), Value: vs[0]}
	}
	return out, nil
}
