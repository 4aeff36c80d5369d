package fs

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
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
	if cs := opts.Checksum; cs != nil && cs.Algorithm != "" {
		rec.checksumAlgo, rec.checksumType = cs.Algorithm, cs.Type
		if rec.checksumType == "" {
			rec.checksumType = storage.DefaultChecksumType(cs.Algorithm)
		}
		if storage.NewChecksumHash(rec.checksumAlgo) == nil || !storage.ValidMultipartChecksum(rec.checksumAlgo, rec.checksumType) {
			return storage.Upload{}, fmt.Errorf("fs: checksum %s %s is not one a multipart upload can have", rec.checksumAlgo, rec.checksumType)
		}
	}
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
// MaxPutSize. The part's ETag is the hex MD5 of its bytes; when the upload
// has a checksum algorithm, the part's checksum in it is kept too.
func (s *Store) UploadPart(ctx context.Context, bucket, key, uploadID string, part int, body io.Reader, size int64) (storage.PartInfo, error) {
	if err := s.checkUpload(bucket, key, uploadID); err != nil {
		return storage.PartInfo{}, err
	}
	if err := checkPartNumber(part); err != nil {
		return storage.PartInfo{}, err
	}
	up, err := s.uploadRecord(bucket, key, uploadID)
	if err != nil {
		return storage.PartInfo{}, err
	}
	ck := up.partChecksummer()
	w, err := s.writeData(ctx, ck.reader(body), size, s.maxPutSize)
	if err != nil {
		return storage.PartInfo{}, fmt.Errorf("upload part %d of %s/%s: %w", part, bucket, key, err)
	}
	return s.commitPart(bucket, key, uploadID, part, w, &up, ck)
}

func (s *Store) uploadExists(bucket, key, uploadID string) error {
	_, err := s.uploadRecord(bucket, key, uploadID)
	return err
}

// uploadRecord reads an upload's record, or ErrUploadNotFound.
func (s *Store) uploadRecord(bucket, key, uploadID string) (uploadRec, error) {
	var up uploadRec
	err := s.view(func(tx *bolt.Tx) error {
		_, u, err := uploadTable(tx, bucket, key, uploadID)
		if err != nil {
			return err
		}
		if up, err = decodeUpload(u.Get(metaKey)); err != nil {
			return fmt.Errorf("fs: upload record %s: %w", uploadID, err)
		}
		return nil
	})
	return up, err
}

// partChecksummer hashes a part in the upload's algorithm (nothing when it
// has none).
func (u *uploadRec) partChecksummer() *checksummer {
	if u.checksumAlgo == "" {
		return &checksummer{}
	}
	ck, err := newChecksummer(&storage.Checksum{Algorithm: u.checksumAlgo, Type: u.checksumType})
	if err != nil { // checked when the upload was created
		return &checksummer{}
	}
	return ck
}

func (s *Store) commitPart(bucket, key, uploadID string, part int, w written, up *uploadRec, ck *checksummer) (storage.PartInfo, error) {
	rec := partRec{size: w.size, mtime: time.Now().UTC().UnixNano(), etag: hex.EncodeToString(w.md5[:]), file: w.file}
	cs, err := ck.result()
	if err != nil {
		s.removeData(w.file)
		return storage.PartInfo{}, err
	}
	rec.checksum = cs.Value
	l := s.uploadLock(uploadID)
	l.RLock()
	defer l.RUnlock()
	var old string
	err = s.update(func(tx *itx) error {
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
	return rec.info(part, up), nil
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
	up, err := s.uploadRecord(bucket, key, uploadID)
	if err != nil {
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
	ck := up.partChecksummer()
	w, err := s.writeData(ctx, ck.reader(v.section(start, length)), length, s.maxPutSize)
	if err != nil {
		return storage.PartInfo{}, fmt.Errorf("upload part copy %d of %s/%s: %w", part, bucket, key, err)
	}
	return s.commitPart(bucket, key, uploadID, part, w, &up, ck)
}

// CompleteMultipartUpload assembles the listed parts into the object, as S3
// does: part numbers ascending (else ErrInvalidPartOrder; a number listed
// several times in a row counts once, with its last entry, because a part
// sent again — an SDK retry, or a resend that finished after a later part —
// is simply the part); every part uploaded with the given ETag, quotes and
// case ignored (else ErrInvalidPart); every part but the last at least
// Options.MinPartSize (else ErrEntityTooSmall); the total at most
// MaxObjectSize. The parts are streamed into one temp file, fsynced and
// renamed, then one index commit creates the object and removes the
// upload; afterwards all the upload's part files (listed or not) are
// removed. The ETag is hex(md5(md5(part1) || … || md5(partN))) + "-N". The
// object keeps its part boundaries (ObjectParts), its checksum when the
// upload has an algorithm, and the upload ID, so completing the same upload
// again answers the object it made (S3's answer to an SDK's retry) as long
// as the key still holds it.
func (s *Store) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []storage.CompletePart) (storage.ObjectInfo, error) {
	return s.CompleteMultipartUploadWith(ctx, bucket, key, uploadID, parts, storage.CompleteOptions{})
}

var _ storage.MultipartCompleter = (*Store)(nil)
var _ storage.ObjectPartLister = (*Store)(nil)

// CompleteMultipartUploadWith is CompleteMultipartUpload with conditions
// (If-Match, If-None-Match, decided in the commit) and the object checksum
// the client expects (storage.MultipartCompleter). A listed part checksum
// that differs from the part's is ErrInvalidPart; an expected object
// checksum that differs from the computed one is ErrChecksumMismatch.
// COMPOSITE checksums are computed from the parts' checksums, FULL_OBJECT
// ones over the bytes while they are assembled.
func (s *Store) CompleteMultipartUploadWith(ctx context.Context, bucket, key, uploadID string, parts []storage.CompletePart, opts storage.CompleteOptions) (storage.ObjectInfo, error) {
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
		if i > 0 && p.PartNumber < parts[i-1].PartNumber {
			return storage.ObjectInfo{}, fmt.Errorf("%w: part %d follows part %d", storage.ErrInvalidPartOrder, p.PartNumber, parts[i-1].PartNumber)
		}
	}
	parts = lastOfRuns(parts)
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
			if up.checksumAlgo != "" && cp.Checksum != "" && cp.Checksum != p.checksum {
				return fmt.Errorf("%w: part %d has %s checksum %q, not %q", storage.ErrInvalidPart, cp.PartNumber, up.checksumAlgo, p.checksum, cp.Checksum)
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
	if errors.Is(err, storage.ErrUploadNotFound) {
		if info, ok := s.completedBy(bucket, key, uploadID); ok {
			return info, nil
		}
	}
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("complete %s/%s: %w", bucket, key, err)
	}

	var (
		sum      storage.Checksum
		fullHash hash.Hash
	)
	if up.checksumAlgo != "" {
		sum = storage.Checksum{Algorithm: up.checksumAlgo, Type: up.checksumType}
		if up.checksumType == storage.ChecksumTypeComposite {
			vals := make([]string, len(use))
			for i, p := range use {
				vals[i] = p.checksum
			}
			if sum.Value, err = storage.CompositeChecksum(up.checksumAlgo, vals); err != nil {
				return storage.ObjectInfo{}, fmt.Errorf("complete %s/%s: %w", bucket, key, err)
			}
			if err := checkExpected(opts.Checksum, sum); err != nil {
				return storage.ObjectInfo{}, err
			}
		} else {
			fullHash = storage.NewChecksumHash(up.checksumAlgo)
		}
	} else if opts.Checksum != nil && opts.Checksum.Value != "" {
		return storage.ObjectInfo{}, fmt.Errorf("%w: the upload was created without a checksum algorithm", storage.ErrChecksumMismatch)
	}

	w, err := s.assemble(ctx, use, total, fullHash)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("complete %s/%s: %w", bucket, key, err)
	}
	if fullHash != nil {
		sum.Value = base64.StdEncoding.EncodeToString(fullHash.Sum(nil))
		if err := checkExpected(opts.Checksum, sum); err != nil {
			s.removeData(w.file)
			return storage.ObjectInfo{}, err
		}
	}

	etagHash := md5.New()
	bounds := make([]objPart, len(use))
	for i, p := range use {
		b, err := hex.DecodeString(p.etag)
		if err != nil {
			s.removeData(w.file)
			return storage.ObjectInfo{}, fmt.Errorf("fs: part ETag %q: %w", p.etag, err)
		}
		etagHash.Write(b)
		bounds[i] = objPart{size: p.size, checksum: p.checksum}
	}
	rec := objectRec{
		size:        w.size,
		mtime:       time.Now().UTC().UnixNano(),
		etag:        hex.EncodeToString(etagHash.Sum(nil)) + "-" + strconv.Itoa(len(use)),
		contentType: up.contentType,
		file:        w.file,
		meta:        up.meta,
		checksum:    sum,
		parts:       bounds,
		partsCount:  len(bounds),
		uploadID:    uploadID,
	}
	c := conds{ifNoneMatchAny: up.ifNoneMatch || opts.IfNoneMatch == "*", ifMatch: opts.IfMatch}
	if opts.IfNoneMatch != "*" {
		c.ifNoneMatchETag = opts.IfNoneMatch
	}
	v := rec.encode()
	var old string
	err = s.update(func(tx *itx) error {
		if _, _, err := uploadTable(tx.Tx, bucket, key, uploadID); err != nil {
			return err
		}
		var err error
		if old, err = putObjectTx(tx, bucket, key, v, false, nil, c); err != nil {
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

// lastOfRuns keeps, of consecutive entries with one part number, the last.
func lastOfRuns(parts []storage.CompletePart) []storage.CompletePart {
	out := parts[:0:0]
	for i, p := range parts {
		if i+1 < len(parts) && parts[i+1].PartNumber == p.PartNumber {
			continue
		}
		out = append(out, p)
	}
	return out
}

// checkExpected compares the checksum a client expects with the computed
// one.
func checkExpected(want *storage.Checksum, got storage.Checksum) error {
	if want == nil || want.Value == "" {
		return nil
	}
	if want.Algorithm != "" && want.Algorithm != got.Algorithm {
		return fmt.Errorf("%w: the upload's checksum is %s, not %s", storage.ErrChecksumMismatch, got.Algorithm, want.Algorithm)
	}
	if want.Value != got.Value {
		return fmt.Errorf("%w: %s checksum %s, computed %s", storage.ErrChecksumMismatch, got.Algorithm, want.Value, got.Value)
	}
	return nil
}

// completedBy returns key's info when the object there was made by
// completing uploadID: a repeated CompleteMultipartUpload gets the same
// answer (S3 does this so SDK retries are safe).
func (s *Store) completedBy(bucket, key, uploadID string) (storage.ObjectInfo, bool) {
	rec, err := s.lookup(bucket, key)
	if err != nil || rec.uploadID != uploadID {
		return storage.ObjectInfo{}, false
	}
	return rec.info(key), true
}

// assemble streams the parts' files, in order, into one new durable
// content file.
// full, when not nil, also hashes every byte (a FULL_OBJECT checksum).
func (s *Store) assemble(ctx context.Context, parts []partRec, total int64, full hash.Hash) (written, error) {
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
		k, err := s.copyBody(ctx, f, full, pf, p.size, p.size)
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
		up, err := decodeUpload(u.Get(metaKey))
		if err != nil {
			return fmt.Errorf("fs: upload record %s: %w", uploadID, err)
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
			out = append(out, p.info(n, &up))
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
