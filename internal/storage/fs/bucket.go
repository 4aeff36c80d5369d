package fs

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/s3fed/s3fed/internal/storage"
)

// CreateBucket creates an empty bucket. The name must pass ValidBucketName;
// an existing name is ErrBucketExists (who owns it is the caller's business).
func (s *Store) CreateBucket(ctx context.Context, bucket string) error {
	if err := ValidBucketName(bucket); err != nil {
		return err
	}
	if err := checkCtx(ctx); err != nil {
		return err
	}
	now := time.Now().UTC().UnixNano()
	return s.update(func(tx *itx) error {
		b := tx.Bucket(bktBuckets)
		if b.Get([]byte(bucket)) != nil {
			return fmt.Errorf("%w: %s", storage.ErrBucketExists, bucket)
		}
		if err := tx.put(bktBuckets, nil, []byte(bucket), binary.AppendVarint(nil, now)); err != nil {
			return err
		}
		// The tables never outlive the registry entry (both go in one
		// transaction); create-if-absent only makes this robust to a
		// hand-edited index.
		for _, name := range [][]byte{objBucket(bucket), inlineBucket(bucket), uploadBucket(bucket)} {
			if err := tx.createTable(name, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteBucket deletes a bucket that holds no objects. In-progress multipart
// uploads do not keep a bucket alive: they are aborted with it, as on AWS
// (whose DeleteBucket answers BucketNotEmpty for objects only), so an upload
// a client forgot can never make a bucket undeletable.
func (s *Store) DeleteBucket(ctx context.Context, bucket string) error {
	if err := ValidBucketName(bucket); err != nil {
		return err
	}
	if err := checkCtx(ctx); err != nil {
		return err
	}
	var partFiles []string
	err := s.update(func(tx *itx) error {
		partFiles = partFiles[:0]
		b := tx.Bucket(bktBuckets)
		if b.Get([]byte(bucket)) == nil {
			return fmt.Errorf("%w: %s", storage.ErrBucketNotFound, bucket)
		}
		ob := tx.Bucket(objBucket(bucket))
		if ob != nil {
			if k, _ := ob.Cursor().First(); k != nil {
				return fmt.Errorf("%w: %s", storage.ErrBucketNotEmpty, bucket)
			}
		}
		if ub := tx.Bucket(uploadBucket(bucket)); ub != nil {
			err := ub.ForEachBucket(func(k []byte) error {
				return ub.Bucket(k).ForEach(func(pk, pv []byte) error {
					if len(pk) == 5 && pk[0] == 'p' {
						if p, err := decodePart(pv); err == nil {
							partFiles = append(partFiles, p.file)
						}
					}
					return nil
				})
			})
			if err != nil {
				return fmt.Errorf("fs: reading uploads of %s: %w", bucket, err)
			}
		}
		if err := tx.del(bktBuckets, nil, []byte(bucket)); err != nil {
			return err
		}
		for _, name := range [][]byte{objBucket(bucket), inlineBucket(bucket), uploadBucket(bucket)} {
			if tx.Bucket(name) != nil {
				if err := tx.deleteTable(name, nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, f := range partFiles {
		s.removeData(f)
	}
	return nil
}

// HeadBucket reports whether a bucket exists and when it was created.
func (s *Store) HeadBucket(ctx context.Context, bucket string) (storage.BucketInfo, error) {
	if err := ValidBucketName(bucket); err != nil {
		return storage.BucketInfo{}, err
	}
	var info storage.BucketInfo
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bktBuckets).Get([]byte(bucket))
		if v == nil {
			return fmt.Errorf("%w: %s", storage.ErrBucketNotFound, bucket)
		}
		info = bucketInfo(bucket, v)
		return nil
	})
	return info, err
}

// ListBuckets lists every bucket in name order.
func (s *Store) ListBuckets(ctx context.Context) ([]storage.BucketInfo, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	var out []storage.BucketInfo
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bktBuckets).ForEach(func(k, v []byte) error {
			out = append(out, bucketInfo(string(k), v))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("fs: listing buckets: %w", err)
	}
	return out, nil
}

func bucketInfo(name string, v []byte) storage.BucketInfo {
	ns, _ := binary.Varint(v)
	return storage.BucketInfo{Name: name, Created: time.Unix(0, ns).UTC()}
}

// objectsTable returns the object table of an existing bucket, or
// ErrBucketNotFound. A bucket's tables ("o/", "d/", "u/") and its registry
// entry are created and deleted together in one transaction, so the object
// table alone answers whether the bucket exists (one lookup on the GET
// path instead of four).
func objectsTable(tx *bolt.Tx, bucket string) (*bolt.Bucket, error) {
	ob := tx.Bucket(objBucket(bucket))
	if ob == nil {
		return nil, fmt.Errorf("%w: %s", storage.ErrBucketNotFound, bucket)
	}
	return ob, nil
}

// uploadsTable returns the multipart-upload table of an existing bucket, or
// ErrBucketNotFound.
func uploadsTable(tx *bolt.Tx, bucket string) (*bolt.Bucket, error) {
	ub := tx.Bucket(uploadBucket(bucket))
	if ub == nil {
		return nil, fmt.Errorf("%w: %s", storage.ErrBucketNotFound, bucket)
	}
	return ub, nil
}
