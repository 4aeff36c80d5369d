package fs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/s3fed/s3fed/internal/storage"
)

// Index records are a small versioned binary encoding rather than JSON:
// listings decode thousands of them per page, and the encoding is private
// to this package (a format change bumps the version byte).
const recordVersion = 1

var errCorrupt = errors.New("corrupt index record")

// objectRec is what the index keeps for one object.
type objectRec struct {
	size        int64
	mtime       int64 // Unix nanoseconds, UTC
	etag        string
	contentType string
	file        string // "XX/hex" under DIR/data; "" for an inline object
	meta        map[string]string

	// Extensions (see "Record extensions"); zero when absent.
	checksum storage.Checksum // Algorithm "" when none
	// parts are the part boundaries of a multipart object. decodeObject
	// leaves them undecoded (listings decode thousands of records) and
	// only counts them; decodeObjectParts reads them.
	parts      []objPart
	partsCount int
	// uploadID is the multipart upload the object was completed from, so a
	// repeated CompleteMultipartUpload can answer it again.
	uploadID string
}

// objPart is one part boundary of a multipart object.
type objPart struct {
	size     int64
	checksum string
}

// partRec is what the index keeps for one uploaded part.
type partRec struct {
	size  int64
	mtime int64
	etag  string
	file  string
	// checksum is the part's checksum value in its upload's algorithm
	// (extension; "" when none).
	checksum string
}

// uploadRec is what the index keeps for one multipart upload; the options
// given at creation apply when it completes.
type uploadRec struct {
	initiated   int64
	contentType string
	ifNoneMatch bool
	meta        map[string]string
	// checksumAlgo and checksumType are the upload's checksum (extension;
	// "" when none).
	checksumAlgo, checksumType string
}

// Record extensions. Fields added after version 1 follow a record's
// original fields as tagged sections: a tag byte, the payload length
// (uvarint), the payload. A record without them is a record written before
// they existed, and decoders skip tags they do not know, so old and new
// records share one version byte.
const (
	extChecksum = 1 // object: algorithm, type, value; part: value; upload: algorithm, type
	extParts    = 2 // object: count, then per part its size and checksum value
	extUploadID = 3 // object: the upload ID it was completed from
)

func appendExt(b []byte, tag byte, payload []byte) []byte {
	b = append(b, tag)
	b = binary.AppendUvarint(b, uint64(len(payload)))
	return append(b, payload...)
}

// exts calls f for each extension section left in r; f reads its payload
// through its own reader. A truncated section is errCorrupt.
func (r *reader) exts(f func(tag byte, p *reader)) {
	for r.err == nil && len(r.b) > 0 {
		tag := r.b[0]
		r.b = r.b[1:]
		n := r.uvarint()
		if r.err != nil {
			return
		}
		if n > uint64(len(r.b)) {
			r.err = errCorrupt
			return
		}
		p := &reader{b: r.b[:n]}
		r.b = r.b[n:]
		f(tag, p)
		if p.err != nil {
			r.err = p.err
		}
	}
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendMeta(b []byte, m map[string]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(m)))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic bytes
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, m[k])
	}
	return b
}

// reader decodes fields in order and remembers the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) meta() map[string]string {
	n := r.uvarint()
	if r.err != nil || n == 0 {
		return nil
	}
	if n > uint64(len(r.b)) { // each pair takes at least two bytes
		r.err = errCorrupt
		return nil
	}
	m := make(map[string]string, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		k := r.str()
		m[k] = r.str()
	}
	return m
}

func (r *reader) version() {
	if len(r.b) == 0 || r.b[0] != recordVersion {
		r.err = fmt.Errorf("%w: unknown version", errCorrupt)
		return
	}
	r.b = r.b[1:]
}

func (o *objectRec) encode() []byte {
	b := make([]byte, 0, 64+len(o.etag)+len(o.contentType)+len(o.file))
	b = append(b, recordVersion)
	b = binary.AppendVarint(b, o.size)
	b = binary.AppendVarint(b, o.mtime)
	b = appendString(b, o.etag)
	b = appendString(b, o.contentType)
	b = appendString(b, o.file)
	b = appendMeta(b, o.meta)
	if o.checksum.Algorithm != "" {
		var p []byte
		p = appendString(p, o.checksum.Algorithm)
		p = appendString(p, o.checksum.Type)
		p = appendString(p, o.checksum.Value)
		b = appendExt(b, extChecksum, p)
	}
	if len(o.parts) > 0 {
		p := binary.AppendUvarint(nil, uint64(len(o.parts)))
		for _, pt := range o.parts {
			p = binary.AppendVarint(p, pt.size)
			p = appendString(p, pt.checksum)
		}
		b = appendExt(b, extParts, p)
	}
	if o.uploadID != "" {
		b = appendExt(b, extUploadID, appendString(nil, o.uploadID))
	}
	return b
}

func decodeObject(v []byte) (objectRec, error) {
	return decodeObjectRec(v, false)
}

// decodeObjectParts is decodeObject that also reads the part boundaries.
func decodeObjectParts(v []byte) (objectRec, error) {
	return decodeObjectRec(v, true)
}

func decodeObjectRec(v []byte, withParts bool) (objectRec, error) {
	r := reader{b: v}
	r.version()
	var o objectRec
	o.size = r.varint()
	o.mtime = r.varint()
	o.etag = r.str()
	o.contentType = r.str()
	o.file = r.str()
	o.meta = r.meta()
	r.exts(func(tag byte, p *reader) {
		switch tag {
		case extChecksum:
			o.checksum.Algorithm = p.str()
			o.checksum.Type = p.str()
			o.checksum.Value = p.str()
		case extParts:
			n := p.uvarint()
			if p.err == nil && n > uint64(storage.MaxParts) {
				p.err = errCorrupt
			}
			o.partsCount = int(n)
			if !withParts || p.err != nil {
				return
			}
			o.parts = make([]objPart, 0, n)
			for i := uint64(0); i < n && p.err == nil; i++ {
				size := p.varint()
				o.parts = append(o.parts, objPart{size: size, checksum: p.str()})
			}
		case extUploadID:
			o.uploadID = p.str()
		}
	})
	if r.err != nil {
		return objectRec{}, r.err
	}
	return o, nil
}

func (o *objectRec) info(key string) storage.ObjectInfo {
	info := storage.ObjectInfo{
		Key:          key,
		Size:         o.size,
		ETag:         o.etag,
		LastModified: time.Unix(0, o.mtime).UTC(),
		ContentType:  o.contentType,
		Metadata:     o.meta,
		PartsCount:   o.partsCount,
	}
	if o.checksum.Algorithm != "" {
		cs := o.checksum
		info.Checksum = &cs
	}
	return info
}

func (p *partRec) encode() []byte {
	b := make([]byte, 0, 32+len(p.etag)+len(p.file))
	b = append(b, recordVersion)
	b = binary.AppendVarint(b, p.size)
	b = binary.AppendVarint(b, p.mtime)
	b = appendString(b, p.etag)
	b = appendString(b, p.file)
	if p.checksum != "" {
		b = appendExt(b, extChecksum, appendString(nil, p.checksum))
	}
	return b
}

func decodePart(v []byte) (partRec, error) {
	r := reader{b: v}
	r.version()
	var p partRec
	p.size = r.varint()
	p.mtime = r.varint()
	p.etag = r.str()
	p.file = r.str()
	r.exts(func(tag byte, e *reader) {
		if tag == extChecksum {
			p.checksum = e.str()
		}
	})
	if r.err != nil {
		return partRec{}, r.err
	}
	return p, nil
}

// info describes the part; up is its upload, whose algorithm the part's
// checksum is in.
func (p *partRec) info(n int, up *uploadRec) storage.PartInfo {
	pi := storage.PartInfo{PartNumber: n, Size: p.size, ETag: p.etag, LastModified: time.Unix(0, p.mtime).UTC()}
	if p.checksum != "" && up != nil && up.checksumAlgo != "" {
		pi.Checksum = &storage.Checksum{Algorithm: up.checksumAlgo, Type: up.checksumType, Value: p.checksum}
	}
	return pi
}

func (u *uploadRec) encode() []byte {
	b := make([]byte, 0, 32+len(u.contentType))
	b = append(b, recordVersion)
	b = binary.AppendVarint(b, u.initiated)
	b = appendString(b, u.contentType)
	if u.ifNoneMatch {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = appendMeta(b, u.meta)
	if u.checksumAlgo != "" {
		var p []byte
		p = appendString(p, u.checksumAlgo)
		p = appendString(p, u.checksumType)
		b = appendExt(b, extChecksum, p)
	}
	return b
}

func decodeUpload(v []byte) (uploadRec, error) {
	r := reader{b: v}
	r.version()
	var u uploadRec
	u.initiated = r.varint()
	u.contentType = r.str()
	if r.err == nil {
		if len(r.b) == 0 {
			r.err = errCorrupt
		} else {
			u.ifNoneMatch = r.b[0] == 1
			r.b = r.b[1:]
		}
	}
	u.meta = r.meta()
	r.exts(func(tag byte, e *reader) {
		if tag == extChecksum {
			u.checksumAlgo = e.str()
			u.checksumType = e.str()
		}
	})
	if r.err != nil {
		return uploadRec{}, r.err
	}
	return u, nil
}

// partKey is the index key of a part record: "p" + big-endian part number,
// so parts iterate in numeric order.
func partKey(n int) []byte {
	var k [5]byte
	k[0] = 'p'
	binary.BigEndian.PutUint32(k[1:], uint32(n))
	return k[:]
}

// uploadKey is the index key of an upload: key \x00 uploadID, so uploads
// list in key order and a (key, uploadID) pair that does not belong together
// is simply not found.
func uploadKey(key, uploadID string) []byte {
	b := make([]byte, 0, len(key)+1+len(uploadID))
	b = append(b, key...)
	b = append(b, 0)
	return append(b, uploadID...)
}

// uploadIDLen is the length of every upload ID this store issues.
const uploadIDLen = 32

// splitUploadKey undoes uploadKey (the ID has a fixed length, so a key that
// itself contains \x00 is still unambiguous).
func splitUploadKey(k []byte) (key, uploadID string, ok bool) {
	if len(k) < uploadIDLen+1 || k[len(k)-uploadIDLen-1] != 0 {
		return "", "", false
	}
	return string(k[:len(k)-uploadIDLen-1]), string(k[len(k)-uploadIDLen:]), true
}

func copyMeta(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
