package fs

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/s3fed/s3fed/internal/storage"
)

// Multipart uploads live in the index under "u/BUCKET", one nested table per
// upload keyed key\x00uploadID, holding the upload record ("m") and one
// record per part ("p"+BE32). Parts are content files like objects.
//
// Locking: UploadPart and UploadPartCopy commit their part under the
// upload's read lock (so parts of one upload commit in parallel);
// CompleteMultipartUpload and AbortMultipartUpload hold its write lock for
// their whole run, so no part changes or disappears while Complete reads the
// part files.

var metaKey = []byte("m")

func validUploadID(id string) bool {
	if len(id) != uploadIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (s *Store) checkUpload(bucket, key, uploadID string) error {
	if err := ValidBucketName(bucket); err != nil {
		return err
	}
	if err := ValidObjectKey(key); err != nil {
		return err
	}
	if !validUploadID(uploadID) {
		return fmt.Errorf("%w: %q", storage.ErrUploadNotFound, uploadID)
	}
	return nil
}

func checkPartNumber(n int) error {
	if n < 1 || n > storage.MaxParts {
		return fmt.Errorf("%w: part number %d is not between 1 and %d", storage.ErrTooManyParts, n, storage.MaxParts)
	}
	return nil
}

// uploadTable returns an existing upload's table or ErrUploadNotFound.
func uploadTable(tx *bolt.Tx, bucket, key, uploadID string) (*bolt.Bucket, *bolt.Bucket, error) {
	ub, err := uploadsTable(tx, bucket)
	if err != nil {
		return nil, nil, err
	}
	u := ub.Bucket(uploadKey(key, uploadID))
	if u == nil {
		return nil, nil, fmt.Errorf("%w: %s for %s/%s", storage.ErrUploadNotFound, uploadID, bucket, key)
	}
	return ub, u, nil
}

// CreateMultipartUpload starts an upload with an unguessable ID (128 random
// bits). opts (content type, metadata, If-None-Match) apply when it
// completes; opts.Size is ignored.
func (s *Store) CreateMultipartUpload(ctx context.Context, bucket, key string, opts storage.PutOptions) (storage.Upload, error) {
	if err := ValidBucketName(bucket); err != nil {
		return storage.Upload{}, err
	}
	if err := ValidObjectKey(key); err != nil {
		return storage.Upload{}, err
	}
	if err := checkCtx(ctx); err != nil {
		return storage.Upload{}, err
	}
	id, err := newUploadID()
	if err != nil {
		return storage.Upload{}, err
	}
	now := time.Now().UTC()
	rec := uploadRec{initiated: now.UnixNano(), contentType: opts.ContentType, ifNoneMatch: opts.IfNoneMatch, meta: copyMeta(opts.Metadata)}
	err = s.update(func(tx *itx) error {
		ub, err := uploadsTable(tx.Tx, bucket)
		if err != nil {
			return err
		}
		uk := uploadKey(key, id)
		if ub.Bucket(uk) != nil { // upload IDs are random: never in practice
			return fmt.Errorf("fs: upload ID %s collides", id)
		}
		if err := tx.createTable(uploadBucket(bucket), uk); err != nil {
			return err
		}
		return tx.put(uploadBucket(bucket), uk, metaKey, rec.encode())
	})
	if err != nil {
		return storage.Upload{}, fmt.Errorf("create upload for %s/%s: %w", bucket, key, err)
	}
	return storage.Upload{UploadID: id, Key: key, Initiated: time.Unix(0, rec.initiated).UTC()}, nil
}

// UploadPart stores one part (1..storage.MaxParts; storing a number again
// replaces it). size is the exact length or -1; a part is at most
// MaxPutSize. The part's ETag is the hex MD5 of its bytes.
func (s *Store) UploadPart(ctx context.Context, bucket, key, uploadID string, part int, body io.Reader, size int64) (storage.PartInfo, error) {
	if err := s.checkUpload(bucket, key, uploadID); err != nil {
		return storage.PartInfo{}, err
	}
	if err := checkPartNumber(part); err != nil {
		return storage.PartInfo{}, err
	}
	if err := s.uploadExists(bucket, key, uploadID); err != nil {
		return storage.PartInfo{}, err
	}
	w, err := s.writeData(ctx, body, size, s.maxPutSize)
	if err != nil {
		return storage.PartInfo{}, fmt.Errorf("upload part %d of %s/%s: %w", part, bucket, key, err)
	}
	return s.commitPart(bucket, key, uploadID, part, w)
}

func (s *Store) uploadExists(bucket, key, uploadID string) error {
	return s.view(func(tx *bolt.Tx) error {
		_, _, err := uploadTable(tx, bucket, key, uploadID)
		return err
	})
}

func (s *Store) commitPart(bucket, key, uploadID string, part int, w written) (storage.PartInfo, error) {
	rec := partRec{size: w.size, mtime: time.Now().UTC().UnixNano(), etag: hex.EncodeToString(w.md5[:]), file: w.file}
	l := s.uploadLock(uploadID)
	l.RLock()
	defer l.RUnlock()
	var old string
	err := s.update(func(tx *itx) error {
		old = ""
		_, u, err := uploadTable(tx.Tx, bucket, key, uploadID)
		if err != nil {
			return err
		}
		if prev := u.Get(partKey(part)); prev != nil {
			if p, err := decodePart(prev); err == nil {
				old = p.file
			}
		}
		return tx.put(uploadBucket(bucket), uploadKey(key, uploadID), partKey(part), rec.encode())
	})
	if err != nil {
		s.removeData(w.file)
		return storage.PartInfo{}, fmt.Errorf("upload part %d of %s/%s: %w", part, bucket, key, err)
	}
	s.removeData(old)
	return rec.info(part), nil
}

// UploadPartCopy copies rng of the source object (all of it when nil) into
// a part. Unlike GetObject, a range that does not lie wholly inside the
// source is ErrInvalidRange, as S3 answers for x-amz-copy-source-range.
func (s *Store) UploadPartCopy(ctx context.Context, bucket, key, uploadID string, part int, srcBucket, srcKey string, rng *storage.Range) (storage.PartInfo, error) {
	if err := s.checkUpload(bucket, key, uploadID); err != nil {
		return storage.PartInfo{}, err
	}
	if err := checkPartNumber(part); err != nil {
		return storage.PartInfo{}, err
	}
	if err := s.uploadExists(bucket, key, uploadID); err != nil {
		return storage.PartInfo{}, err
	}
	if err := checkCtx(ctx); err != nil {
		return storage.PartInfo{}, err
	}
	v, err := s.open(srcBucket, srcKey)
	if err != nil {
		return storage.PartInfo{}, fmt.Errorf("copy source: %w", err)
	}
	defer v.close()
	src := v.rec
	start, length := int64(0), src.size
	if rng != nil {
		if rng.Start < 0 || rng.Length <= 0 || rng.Start+rng.Length > src.size || rng.Start+rng.Length < rng.Start {
			return storage.PartInfo{}, fmt.Errorf("%w: start %d length %d of a %d-byte source", storage.ErrInvalidRange, rng.Start, rng.Length, src.size)
		}
		start, length = rng.Start, rng.Length
	}
	if length > s.maxPutSize {
		return storage.PartInfo{}, fmt.Errorf("%w: a copied part is at most %d bytes, not %d", storage.ErrEntityTooLarge, s.maxPutSize, length)
	}
	w, err := s.writeData(ctx, v.section(start, length), length, s.maxPutSize)
	if err != nil {
		return storage.PartInfo{}, fmt.Errorf("upload part copy %d of %s/%s: %w", part, bucket, key, err)
	}
	return s.commitPart(bucket, key, uploadID, part, w)
}

// CompleteMultipartUpload assembles the listed parts into the object, as S3
// does: part numbers strictly ascending (else ErrInvalidPartOrder); every
// part uploaded with the given ETag, quotes and case ignored (else
// ErrInvalidPart); every part but the last at least Options.MinPartSize
// (else ErrEntityTooSmall); the total at most MaxObjectSize. The parts are
// streamed into one temp file, fsynced and renamed, then one index commit
// creates the object and removes the upload; afterwards all the upload's
// part files (listed or not) are removed. The ETag is
// hex(md5(md5(part1) || … || md5(partN))) + "-N".
func (s *Store) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []storage.CompletePart) (storage.ObjectInfo, error) {
	if err := s.checkUpload(bucket, key, uploadID); err != nil {
		return storage.ObjectInfo{}, err
	}
	if len(parts) == 0 {
		return storage.ObjectInfo{}, fmt.Errorf("%w: the part list is empty", storage.ErrInvalidPart)
	}
	if len(parts) > storage.MaxParts {
		return storage.ObjectInfo{}, fmt.Errorf("%w: %d parts listed, at most %d", storage.ErrTooManyParts, len(parts), storage.MaxParts)
	}
	for i, p := range parts {
		if p.PartNumber < 1 || p.PartNumber > storage.MaxParts {
			return storage.ObjectInfo{}, fmt.Errorf("%w: part number %d is not between 1 and %d", storage.ErrInvalidPart, p.PartNumber, storage.MaxParts)
		}
		if i > 0 && p.PartNumber <= parts[i-1].PartNumber {
			return storage.ObjectInfo{}, fmt.Errorf("%w: part %d follows part %d", storage.ErrInvalidPartOrder, p.PartNumber, parts[i-1].PartNumber)
		}
	}
	if err := checkCtx(ctx); err != nil {
		return storage.ObjectInfo{}, err
	}

	l := s.uploadLock(uploadID)
	l.Lock()
	defer l.Unlock()

	var (
		up       uploadRec
		use      = make([]partRec, len(parts))
		allFiles []string
		total    int64
	)
	err := s.view(func(tx *bolt.Tx) error {
		_, u, err := uploadTable(tx, bucket, key, uploadID)
		if err != nil {
			return err
		}
		if up, err = decodeUpload(u.Get(metaKey)); err != nil {
			return fmt.Errorf("fs: upload record %s: %w", uploadID, err)
		}
		for i, cp := range parts {
			v := u.Get(partKey(cp.PartNumber))
			if v == nil {
				return fmt.Errorf("%w: part %d was not uploaded", storage.ErrInvalidPart, cp.PartNumber)
			}
			p, err := decodePart(v)
			if err != nil {
				return fmt.Errorf("fs: part %d record: %w", cp.PartNumber, err)
			}
			if !strings.EqualFold(strings.Trim(cp.ETag, `"`), p.etag) {
				return fmt.Errorf("%w: part %d has ETag %q, not %q", storage.ErrInvalidPart, cp.PartNumber, p.etag, cp.ETag)
			}
			if i < len(parts)-1 && p.size < s.minPartSize {
				return fmt.Errorf("%w: part %d is %d bytes; every part but the last must be at least %d", storage.ErrEntityTooSmall, cp.PartNumber, p.size, s.minPartSize)
			}
			total += p.size
			use[i] = p
		}
		if total > s.maxObjectSize {
			return fmt.Errorf("%w: the parts add up to %d bytes, an object is at most %d", storage.ErrEntityTooLarge, total, s.maxObjectSize)
		}
		allFiles = partFiles(u)
		return nil
	})
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("complete %s/%s: %w", bucket, key, err)
	}

	w, err := s.assemble(ctx, use, total)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("complete %s/%s: %w", bucket, key, err)
	}

	etagHash := md5.New()
	for _, p := range use {
		b, err := hex.DecodeString(p.etag)
		if err != nil {
			s.removeData(w.file)
			return storage.ObjectInfo{}, fmt.Errorf("fs: part ETag %q: %w", p.etag, err)
		}
		etagHash.Write(b)
	}
	rec := objectRec{
		size:        w.size,
		mtime:       time.Now().UTC().UnixNano(),
		etag:        hex.EncodeToString(etagHash.Sum(nil)) + "-" + strconv.Itoa(len(use)),
		contentType: up.contentType,
		file:        w.file,
		meta:        up.meta,
	}
	v := rec.encode()
	var old string
	err = s.update(func(tx *itx) error {
		if _, _, err := uploadTable(tx.Tx, bucket, key, uploadID); err != nil {
			return err
		}
		var err error
		if old, err = putObjectTx(tx, bucket, key, v, false, nil, up.ifNoneMatch); err != nil {
			return err
		}
		return tx.deleteTable(uploadBucket(bucket), uploadKey(key, uploadID))
	})
	if err != nil {
		s.removeData(w.file)
		return storage.ObjectInfo{}, fmt.Errorf("complete %s/%s: %w", bucket, key, err)
	}
	if old != "" {
		s.unlinkReplaced(bucket, key, old)
	}
	for _, f := range allFiles {
		s.removeData(f)
	}
	return rec.info(key), nil
}

// assemble streams the parts' files, in order, into one new durable
// content file.
func (s *Store) assemble(ctx context.Context, parts []partRec, total int64) (written, error) {
	f, err := os.CreateTemp(s.tmpDir, "mp-")
	if err != nil {
		return written{}, fmt.Errorf("fs: creating temp file: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	var n int64
	for i, p := range parts {
		pf, err := os.Open(s.dataPath(p.file))
		if errorsIsNotExist(err) {
			// Only DeleteBucket removes part files without the upload lock.
			return written{}, fmt.Errorf("%w: a part vanished (the bucket was deleted)", storage.ErrUploadNotFound)
		}
		if err != nil {
			return written{}, fmt.Errorf("fs: opening part %d: %w", i+1, err)
		}
		k, err := s.copyBody(ctx, f, nil, pf, p.size, p.size)
		_ = pf.Close()
		if err != nil {
			return written{}, fmt.Errorf("fs: copying part file %s: %w", p.file, err)
		}
		n += k
	}
	if n != total {
		return written{}, fmt.Errorf("fs: assembled %d bytes, expected %d", n, total)
	}
	w, err := s.place(f, md5.New(), n)
	if err != nil {
		return written{}, err
	}
	ok = true
	return w, nil
}

// partFiles lists the content files of every part of an upload table.
func partFiles(u *bolt.Bucket) []string {
	var files []string
	_ = u.ForEach(func(k, v []byte) error {
		if len(k) == 5 && k[0] == 'p' {
			if p, err := decodePart(v); err == nil {
				files = append(files, p.file)
			}
		}
		return nil
	})
	return files
}

// AbortMultipartUpload discards an upload and its parts. An unknown upload
// is ErrUploadNotFound (S3's NoSuchUpload).
func (s *Store) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	if err := s.checkUpload(bucket, key, uploadID); err != nil {
		return err
	}
	if err := checkCtx(ctx); err != nil {
		return err
	}
	l := s.uploadLock(uploadID)
	l.Lock()
	defer l.Unlock()
	var files []string
	err := s.update(func(tx *itx) error {
		_, u, err := uploadTable(tx.Tx, bucket, key, uploadID)
		if err != nil {
			return err
		}
		files = partFiles(u)
		return tx.deleteTable(uploadBucket(bucket), uploadKey(key, uploadID))
	})
	if err != nil {
		return fmt.Errorf("abort %s/%s: %w", bucket, key, err)
	}
	for _, f := range files {
		s.removeData(f)
	}
	return nil
}

// ListParts lists an upload's parts numbered above marker, at most max
// (0 or less means MaxListKeys; more is capped at it), in part order.
func (s *Store) ListParts(ctx context.Context, bucket, key, uploadID string, marker, max int) ([]storage.PartInfo, bool, error) {
	if err := s.checkUpload(bucket, key, uploadID); err != nil {
		return nil, false, err
	}
	if err := checkCtx(ctx); err != nil {
		return nil, false, err
	}
	if max <= 0 || max > MaxListKeys {
		max = MaxListKeys
	}
	if marker < 0 {
		marker = 0
	}
	if marker >= storage.MaxParts {
		// Nothing can follow; also keeps partKey in range.
		return nil, false, s.uploadExists(bucket, key, uploadID)
	}
	var (
		out       []storage.PartInfo
		truncated bool
	)
	err := s.view(func(tx *bolt.Tx) error {
		_, u, err := uploadTable(tx, bucket, key, uploadID)
		if err != nil {
			return err
		}
		c := u.Cursor()
		for k, v := c.Seek(partKey(marker + 1)); k != nil && len(k) == 5 && k[0] == 'p'; k, v = c.Next() {
			if len(out) == max {
				truncated = true
				break
			}
			p, err := decodePart(v)
			if err != nil {
				return fmt.Errorf("fs: part record: %w", err)
			}
			n := int(k[1])<<24 | int(k[2])<<16 | int(k[3])<<8 | int(k[4])
			out = append(out, p.info(n))
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("list parts of %s/%s: %w", bucket, key, err)
	}
	return out, truncated, nil
}

// ListMultipartUploads lists the bucket's in-progress uploads whose key
// starts with prefix, ordered by key and then by initiation time, as S3
// does. There is no paging: uploads are few and short-lived.
func (s *Store) ListMultipartUploads(ctx context.Context, bucket string, prefix string) ([]storage.Upload, error) {
	if err := ValidBucketName(bucket); err != nil {
		return nil, err
	}
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	var out []storage.Upload
	err := s.view(func(tx *bolt.Tx) error {
		ub, err := uploadsTable(tx, bucket)
		if err != nil {
			return err
		}
		c := ub.Cursor()
		for k, _ := c.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, _ = c.Next() {
			key, id, ok := splitUploadKey(k)
			if !ok || !strings.HasPrefix(key, prefix) {
				continue
			}
			u := ub.Bucket(k)
			if u == nil {
				continue
			}
			rec, err := decodeUpload(u.Get(metaKey))
			if err != nil {
				return fmt.Errorf("fs: upload record %s: %w", id, err)
			}
			out = append(out, storage.Upload{UploadID: id, Key: key, Initiated: time.Unix(0, rec.initiated).UTC()})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list uploads of %s: %w", bucket, err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Initiated.Before(out[j].Initiated)
	})
	return out, nil
}
