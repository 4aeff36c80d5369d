package fs

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/s3fed/s3fed/internal/storage"
)

// PutObject streams body into a new content file (or, up to InlineMaxSize
// bytes, into the index itself) and then points key at it in one index
// commit; see the package comment for the crash ordering. An
// error from body, a length mismatch, a cancelled ctx or a failed
// If-None-Match commits nothing and leaves any previous version in place.
func (s *Store) PutObject(ctx context.Context, bucket, key string, body io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	if err := s.checkTarget(bucket, key); err != nil {
		return storage.ObjectInfo{}, err
	}
	ck, err := newChecksummer(opts.Checksum)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	w, err := s.writeSmall(ctx, ck.reader(body), opts.Size, s.maxPutSize)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	rec := objectRec{
		size:        w.size,
		mtime:       time.Now().UTC().UnixNano(),
		etag:        hex.EncodeToString(w.md5[:]),
		contentType: opts.ContentType,
		file:        w.file,
		meta:        copyMeta(opts.Metadata),
	}
	if rec.checksum, err = ck.result(); err != nil {
		s.removeData(w.file)
		return storage.ObjectInfo{}, fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	return s.commitObject(bucket, key, rec, w.inline, putConds(opts))
}

// conds are the conditions of a write, decided inside its commit.
type conds struct {
	ifNoneMatchAny  bool   // If-None-Match: *
	ifNoneMatchETag string // If-None-Match: "etag"
	ifMatch         string // If-Match: "etag" or "*"
}

func putConds(o storage.PutOptions) conds {
	return conds{ifNoneMatchAny: o.IfNoneMatch, ifNoneMatchETag: o.IfNoneMatchETag, ifMatch: o.IfMatch}
}

// check decides the conditions against the key's current record (nil when
// absent).
func (c conds) check(bucket, key string, prev []byte) error {
	if c.ifMatch == "" && c.ifNoneMatchETag == "" && !c.ifNoneMatchAny {
		return nil
	}
	if prev == nil {
		if c.ifMatch != "" {
			return fmt.Errorf("%w: %s/%s does not exist (If-Match)", storage.ErrObjectNotFound, bucket, key)
		}
		return nil
	}
	if c.ifNoneMatchAny {
		return fmt.Errorf("%w: %s/%s exists (If-None-Match: *)", storage.ErrPreconditionFailed, bucket, key)
	}
	p, err := decodeObject(prev)
	if err != nil {
		return fmt.Errorf("fs: index entry of %s/%s: %w", bucket, key, err)
	}
	if c.ifMatch != "" && c.ifMatch != "*" && !etagEqual(c.ifMatch, p.etag) {
		return fmt.Errorf("%w: %s/%s has another ETag (If-Match)", storage.ErrPreconditionFailed, bucket, key)
	}
	if c.ifNoneMatchETag != "" && etagEqual(c.ifNoneMatchETag, p.etag) {
		return fmt.Errorf("%w: %s/%s has that ETag (If-None-Match)", storage.ErrPreconditionFailed, bucket, key)
	}
	return nil
}

// etagEqual compares a client's ETag (quotes and case ignored) with a
// stored one.
func etagEqual(client, stored string) bool {
	return strings.EqualFold(strings.Trim(strings.TrimSpace(client), `"`), stored)
}

// checksummer computes a write's additional checksum while the body is
// read (a trailer checksum is known only at the end, so the bytes
// themselves are the authority) and checks it against a value the client
// gave.
type checksummer struct {
	want storage.Checksum
	h    hash.Hash
}

func newChecksummer(cs *storage.Checksum) (*checksummer, error) {
	if cs == nil || cs.Algorithm == "" {
		return &checksummer{}, nil
	}
	h := storage.NewChecksumHash(cs.Algorithm)
	if h == nil {
		return nil, fmt.Errorf("fs: unknown checksum algorithm %q", cs.Algorithm)
	}
	want := *cs
	if want.Type == "" {
		want.Type = storage.ChecksumTypeFullObject
	}
	return &checksummer{want: want, h: h}, nil
}

// reader wraps the body so every byte read is hashed.
func (c *checksummer) reader(r io.Reader) io.Reader {
	if c.h == nil {
		return r
	}
	return io.TeeReader(r, c.h)
}

// result is the checksum to store (zero when none was asked for), or
// ErrChecksumMismatch.
func (c *checksummer) result() (storage.Checksum, error) {
	if c.h == nil {
		return storage.Checksum{}, nil
	}
	got := c.want
	got.Value = base64.StdEncoding.EncodeToString(c.h.Sum(nil))
	if c.want.Value != "" && c.want.Value != got.Value {
		return storage.Checksum{}, fmt.Errorf("%w: %s %s, computed %s", storage.ErrChecksumMismatch, got.Algorithm, c.want.Value, got.Value)
	}
	return got, nil
}

// checkTarget validates a bucket and key and checks the bucket exists, so a
// body is not streamed to disk only to be refused at commit. The commit
// checks again; this is only the early answer.
func (s *Store) checkTarget(bucket, key string) error {
	if err := ValidBucketName(bucket); err != nil {
		return err
	}
	if err := ValidObjectKey(key); err != nil {
		return err
	}
	return s.view(func(tx *bolt.Tx) error {
		_, err := objectsTable(tx, bucket)
		return err
	})
}

// commitObject points key at rec (whose bytes are rec.file, or inline when
// rec.file is ""), then unlinks the file the key pointed at before. On
// failure it unlinks rec.file instead, so nothing leaks.
func (s *Store) commitObject(bucket, key string, rec objectRec, inline []byte, c conds) (storage.ObjectInfo, error) {
	v := rec.encode()
	var old string
	err := s.update(func(tx *itx) error {
		var err error
		old, err = putObjectTx(tx, bucket, key, v, rec.file == "", inline, c)
		return err
	})
	if err != nil {
		s.removeData(rec.file)
		return storage.ObjectInfo{}, fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	if old != "" && old != rec.file {
		s.unlinkReplaced(bucket, key, old)
	}
	return rec.info(key), nil
}

// putObjectTx writes an object record (and its inline bytes, or removes
// stale inline bytes) inside tx and returns the content file the key
// pointed at before, which the caller unlinks after the commit. All checks
// come before the first write (see update).
func putObjectTx(tx *itx, bucket, key string, rec []byte, isInline bool, inline []byte, c conds) (old string, err error) {
	ob, err := objectsTable(tx.Tx, bucket)
	if err != nil {
		return "", err
	}
	prev := ob.Get([]byte(key))
	if err := c.check(bucket, key, prev); err != nil {
		return "", err
	}
	if prev != nil {
		if p, err := decodeObject(prev); err == nil {
			old = p.file
		}
	}
	if err := tx.put(objBucket(bucket), nil, []byte(key), rec); err != nil {
		return "", err
	}
	if isInline {
		return old, tx.put(inlineBucket(bucket), nil, []byte(key), inline)
	}
	if tx.Bucket(inlineBucket(bucket)).Get([]byte(key)) == nil {
		return old, nil // nothing stale to remove (and nothing to log)
	}
	return old, tx.del(inlineBucket(bucket), nil, []byte(key))
}

// unlinkReplaced removes the content file of a replaced or deleted version
// under the key's write lock, so a reader between "look up" and "open" of
// that version finishes opening first and keeps its descriptor.
func (s *Store) unlinkReplaced(bucket, key, file string) {
	l := s.keyLock(bucket, key)
	l.Lock()
	s.removeData(file)
	l.Unlock()
}

// version is one opened object version: its record and its bytes, as an
// open file (kept readable across overwrites) or inline bytes copied out of
// the index.
type version struct {
	rec  objectRec
	f    *os.File
	data []byte
}

func (v *version) close() {
	if v.f != nil {
		_ = v.f.Close()
	}
}

// section returns a reader over [start, start+length) of the version.
func (v *version) section(start, length int64) io.Reader {
	if v.f == nil {
		return bytes.NewReader(v.data[start : start+length])
	}
	return io.NewSectionReader(v.f, start, length)
}

// open looks key up and opens its bytes as one step with respect to
// unlinkReplaced (see there). The caller closes the version.
func (s *Store) open(bucket, key string) (*version, error) {
	if err := ValidBucketName(bucket); err != nil {
		return nil, err
	}
	if err := ValidObjectKey(key); err != nil {
		return nil, err
	}
	l := s.keyLock(bucket, key)
	l.RLock()
	defer l.RUnlock()
	v := &version{}
	err := s.view(func(tx *bolt.Tx) error {
		ob, err := objectsTable(tx, bucket)
		if err != nil {
			return err
		}
		raw := ob.Get([]byte(key))
		if raw == nil {
			return fmt.Errorf("%w: %s/%s", storage.ErrObjectNotFound, bucket, key)
		}
		if v.rec, err = decodeObject(raw); err != nil {
			return fmt.Errorf("fs: index entry of %s/%s: %w", bucket, key, err)
		}
		if v.rec.file == "" {
			data := tx.Bucket(inlineBucket(bucket)).Get([]byte(key))
			if int64(len(data)) != v.rec.size {
				return fmt.Errorf("fs: inline bytes of %s/%s: %w", bucket, key, errCorrupt)
			}
			v.data = append(make([]byte, 0, len(data)), data...) // valid only inside tx
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if v.rec.file != "" {
		if v.f, err = os.Open(s.dataPath(v.rec.file)); err != nil {
			return nil, fmt.Errorf("fs: opening content of %s/%s: %w", bucket, key, err)
		}
	}
	return v, nil
}

// lookup reads key's record.
func (s *Store) lookup(bucket, key string) (objectRec, error) {
	var rec objectRec
	err := s.view(func(tx *bolt.Tx) error {
		ob, err := objectsTable(tx, bucket)
		if err != nil {
			return err
		}
		v := ob.Get([]byte(key))
		if v == nil {
			return fmt.Errorf("%w: %s/%s", storage.ErrObjectNotFound, bucket, key)
		}
		rec, err = decodeObject(v)
		if err != nil {
			return fmt.Errorf("fs: index entry of %s/%s: %w", bucket, key, err)
		}
		return nil
	})
	return rec, err
}

// resolveRange checks rng against an object of size bytes and returns the
// bytes to serve. A range that starts at or past the end (or any range of an
// empty object) is ErrInvalidRange; one that runs past the end is cut at the
// end, as HTTP does for a last-byte-pos beyond the representation
// (RFC 9110 §14.1.2), so callers compute Content-Range as
// [Start, min(Start+Length, Size)).
func resolveRange(rng *storage.Range, size int64) (start, length int64, err error) {
	if rng == nil {
		return 0, size, nil
	}
	if rng.Start < 0 || rng.Length <= 0 || rng.Start >= size {
		return 0, 0, fmt.Errorf("%w: start %d length %d of a %d-byte object", storage.ErrInvalidRange, rng.Start, rng.Length, size)
	}
	length = rng.Length
	if length > size-rng.Start {
		length = size - rng.Start
	}
	return rng.Start, length, nil
}

// GetObject returns key's info and a reader over rng (all of it when nil).
// The reader holds the version that was current when GetObject ran, even if
// the key is overwritten or deleted while it is read. A range that starts
// at or past the end is ErrInvalidRange; one that runs past the end is cut
// there, so the bytes served are [Start, min(Start+Length, info.Size)) —
// the front door's Content-Range must say the same. Reading uses the
// kernel's sendfile when the destination supports it (io.Copy to a
// net.Conn), and one bounded buffer otherwise.
func (s *Store) GetObject(ctx context.Context, bucket, key string, rng *storage.Range) (storage.ObjectInfo, io.ReadCloser, error) {
	if err := checkCtx(ctx); err != nil {
		return storage.ObjectInfo{}, nil, err
	}
	v, err := s.open(bucket, key)
	if err != nil {
		return storage.ObjectInfo{}, nil, err
	}
	start, length, err := resolveRange(rng, v.rec.size)
	if err != nil {
		v.close()
		return storage.ObjectInfo{}, nil, err
	}
	if v.f == nil {
		return v.rec.info(key), inlineReader{bytes.NewReader(v.data[start : start+length])}, nil
	}
	if start > 0 {
		if _, err := v.f.Seek(start, io.SeekStart); err != nil {
			v.close()
			return storage.ObjectInfo{}, nil, fmt.Errorf("fs: seeking in %s/%s: %w", bucket, key, err)
		}
	}
	return v.rec.info(key), &objectReader{f: v.f, r: io.LimitedReader{R: v.f, N: length}}, nil
}

// inlineReader serves an inline object; bytes.Reader brings WriteTo.
type inlineReader struct{ *bytes.Reader }

func (inlineReader) Close() error { return nil }

// objectReader reads one object version's bytes from its open file.
type objectReader struct {
	f *os.File
	r io.LimitedReader
}

func (o *objectReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// WriteTo hands the limited *os.File to the destination's ReadFrom, which is
// how net.TCPConn reaches sendfile(2).
func (o *objectReader) WriteTo(w io.Writer) (int64, error) { return io.Copy(w, &o.r) }

func (o *objectReader) Close() error { return o.f.Close() }

// HeadObject returns key's info.
func (s *Store) HeadObject(ctx context.Context, bucket, key string) (storage.ObjectInfo, error) {
	if err := ValidBucketName(bucket); err != nil {
		return storage.ObjectInfo{}, err
	}
	if err := ValidObjectKey(key); err != nil {
		return storage.ObjectInfo{}, err
	}
	if err := checkCtx(ctx); err != nil {
		return storage.ObjectInfo{}, err
	}
	rec, err := s.lookup(bucket, key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	return rec.info(key), nil
}

// DeleteObject removes key; a key that does not exist is success, as in S3.
func (s *Store) DeleteObject(ctx context.Context, bucket, key string) error {
	if err := ValidBucketName(bucket); err != nil {
		return err
	}
	if err := ValidObjectKey(key); err != nil {
		return err
	}
	if err := checkCtx(ctx); err != nil {
		return err
	}
	var old string
	err := s.update(func(tx *itx) error {
		old = ""
		ob, err := objectsTable(tx.Tx, bucket)
		if err != nil {
			return err
		}
		prev := ob.Get([]byte(key))
		if prev == nil {
			return nil
		}
		p, err := decodeObject(prev)
		if err == nil {
			old = p.file
		}
		if err := tx.del(objBucket(bucket), nil, []byte(key)); err != nil {
			return err
		}
		if err == nil && p.file != "" {
			return nil // no inline bytes to remove
		}
		return tx.del(inlineBucket(bucket), nil, []byte(key))
	})
	if err != nil {
		return fmt.Errorf("delete %s/%s: %w", bucket, key, err)
	}
	if old != "" {
		s.unlinkReplaced(bucket, key, old)
	}
	return nil
}

// DeleteObjects deletes many keys of one bucket in a single index commit,
// for S3's DeleteObjects (up to 1000 keys): one commit instead of one per
// key. It is not part of storage.Backend; the front door can use it through
// an interface assertion. errs[i] is keys[i]'s outcome (nil when deleted or
// already absent, ErrInvalidObjectName for a bad key); err is set when
// nothing could be done (bad or missing bucket, closed store), and then
// nothing was deleted.
func (s *Store) DeleteObjects(ctx context.Context, bucket string, keys []string) (errs []error, err error) {
	if err := ValidBucketName(bucket); err != nil {
		return nil, err
	}
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	errs = make([]error, len(keys))
	for i, k := range keys {
		errs[i] = ValidObjectKey(k)
	}
	type gone struct{ key, file string }
	var removed []gone
	err = s.update(func(tx *itx) error {
		removed = removed[:0]
		ob, err := objectsTable(tx.Tx, bucket)
		if err != nil {
			return err
		}
		db := tx.Bucket(inlineBucket(bucket))
		for i, k := range keys {
			if errs[i] != nil {
				continue
			}
			prev := ob.Get([]byte(k))
			if prev == nil {
				continue
			}
			if p, err := decodeObject(prev); err == nil && p.file != "" {
				removed = append(removed, gone{k, p.file})
			}
			if err := tx.del(objBucket(bucket), nil, []byte(k)); err != nil {
				return err
			}
			if db.Get([]byte(k)) != nil {
				if err := tx.del(inlineBucket(bucket), nil, []byte(k)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("delete objects in %s: %w", bucket, err)
	}
	for _, g := range removed {
		s.unlinkReplaced(bucket, g.key, g.file)
	}
	return errs, nil
}

// CopyObject streams src into new storage for dst (a content file, or the
// index for a small object), never sharing bytes with src. With opts nil the
// source's content type and metadata are kept (COPY); otherwise opts
// replaces them (REPLACE) and opts.IfNoneMatch applies to dst. Copying an
// object onto itself is allowed here (with COPY it only refreshes the
// modification time); S3 refuses a self-copy that changes nothing, and that
// protocol rule is the front door's. Sources larger than MaxPutSize are
// ErrEntityTooLarge, S3's CopyObject limit (larger ones need UploadPartCopy).
func (s *Store) CopyObject(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, opts *storage.PutOptions) (storage.ObjectInfo, error) {
	if err := s.checkTarget(dstBucket, dstKey); err != nil {
		return storage.ObjectInfo{}, err
	}
	if err := checkCtx(ctx); err != nil {
		return storage.ObjectInfo{}, err
	}
	v, err := s.open(srcBucket, srcKey)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("copy source: %w", err)
	}
	defer v.close()
	src := v.rec
	if src.size > s.maxPutSize {
		return storage.ObjectInfo{}, fmt.Errorf("%w: copy source is %d bytes, CopyObject allows %d", storage.ErrEntityTooLarge, src.size, s.maxPutSize)
	}
	// The copy is a new single-part object: it keeps the source's checksum
	// algorithm (or takes the one opts asks for), computed over its bytes.
	var want *storage.Checksum
	if src.checksum.Algorithm != "" {
		want = &storage.Checksum{Algorithm: src.checksum.Algorithm}
	}
	if opts != nil && opts.Checksum != nil && opts.Checksum.Algorithm != "" {
		want = &storage.Checksum{Algorithm: opts.Checksum.Algorithm}
	}
	ck, err := newChecksummer(want)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	w, err := s.writeSmall(ctx, ck.reader(v.section(0, src.size)), src.size, s.maxPutSize)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("copy %s/%s to %s/%s: %w", srcBucket, srcKey, dstBucket, dstKey, err)
	}
	rec := objectRec{
		size:        w.size,
		mtime:       time.Now().UTC().UnixNano(),
		etag:        hex.EncodeToString(w.md5[:]),
		contentType: src.contentType,
		file:        w.file,
		meta:        src.meta,
	}
	if rec.checksum, err = ck.result(); err != nil {
		s.removeData(w.file)
		return storage.ObjectInfo{}, err
	}
	var c conds
	if opts != nil {
		rec.contentType = opts.ContentType
		rec.meta = copyMeta(opts.Metadata)
		c = putConds(*opts)
	}
	return s.commitObject(dstBucket, dstKey, rec, w.inline, c)
}

// ObjectParts returns key's info and, for an object made by multipart
// upload, its part boundaries in order (storage.ObjectPartLister).
func (s *Store) ObjectParts(ctx context.Context, bucket, key string) (storage.ObjectInfo, []storage.ObjectPart, error) {
	if err := ValidBucketName(bucket); err != nil {
		return storage.ObjectInfo{}, nil, err
	}
	if err := ValidObjectKey(key); err != nil {
		return storage.ObjectInfo{}, nil, err
	}
	if err := checkCtx(ctx); err != nil {
		return storage.ObjectInfo{}, nil, err
	}
	var rec objectRec
	err := s.view(func(tx *bolt.Tx) error {
		ob, err := objectsTable(tx, bucket)
		if err != nil {
			return err
		}
		v := ob.Get([]byte(key))
		if v == nil {
			return fmt.Errorf("%w: %s/%s", storage.ErrObjectNotFound, bucket, key)
		}
		if rec, err = decodeObjectParts(v); err != nil {
			return fmt.Errorf("fs: index entry of %s/%s: %w", bucket, key, err)
		}
		return nil
	})
	if err != nil {
		return storage.ObjectInfo{}, nil, err
	}
	var parts []storage.ObjectPart
	if len(rec.parts) > 0 {
		parts = make([]storage.ObjectPart, len(rec.parts))
		var off int64
		for i, p := range rec.parts {
			parts[i] = storage.ObjectPart{PartNumber: i + 1, Offset: off, Size: p.size, Checksum: p.checksum}
			off += p.size
		}
	}
	return rec.info(key), parts, nil
}
