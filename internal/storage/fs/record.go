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
}

// partRec is what the index keeps for one uploaded part.
type partRec struct {
	size  int64
	mtime int64
	etag  string
	file  string
}

// uploadRec is what the index keeps for one multipart upload; the options
// given at creation apply when it completes.
type uploadRec struct {
	initiated   int64
	contentType string
	ifNoneMatch bool
	meta        map[string]string
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
	return appendMeta(b, o.meta)
}

func decodeObject(v []byte) (objectRec, error) {
	r := reader{b: v}
	r.version()
	var o objectRec
	o.size = r.varint()
	o.mtime = r.varint()
	o.etag = r.str()
	o.contentType = r.str()
	o.file = r.str()
	o.meta = r.meta()
	if r.err != nil {
		return objectRec{}, r.err
	}
	return o, nil
}

func (o *objectRec) info(key string) storage.ObjectInfo {
	return storage.ObjectInfo{
		Key:          key,
		Size:         o.size,
		ETag:         o.etag,
		LastModified: time.Unix(0, o.mtime).UTC(),
		ContentType:  o.contentType,
		Metadata:     o.meta,
	}
}

func (p *partRec) encode() []byte {
	b := make([]byte, 0, 32+len(p.etag)+len(p.file))
	b = append(b, recordVersion)
	b = binary.AppendVarint(b, p.size)
	b = binary.AppendVarint(b, p.mtime)
	b = appendString(b, p.etag)
	return appendString(b, p.file)
}

func decodePart(v []byte) (partRec, error) {
	r := reader{b: v}
	r.version()
	var p partRec
	p.size = r.varint()
	p.mtime = r.varint()
	p.etag = r.str()
	p.file = r.str()
	if r.err != nil {
		return partRec{}, r.err
	}
	return p, nil
}

func (p *partRec) info(n int) storage.PartInfo {
	return storage.PartInfo{PartNumber: n, Size: p.size, ETag: p.etag, LastModified: time.Unix(0, p.mtime).UTC()}
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
	return appendMeta(b, u.meta)
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
