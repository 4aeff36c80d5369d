package fs

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/s3fed/s3fed/internal/storage"
)

// ListObjects returns one page of bucket's keys in byte order.
//
// Semantics: only keys starting with Prefix are considered. With a
// Delimiter, a key whose remainder after Prefix contains it is rolled up
// into the common prefix Prefix+remainder[:first delimiter+len]. Every entry
// returned, object or common prefix, is strictly greater than StartAfter and
// counts against MaxKeys (0 or less means MaxListKeys; more is capped at
// it). So a common prefix that is at or before StartAfter is never repeated,
// and passing NextStartAfter back as StartAfter continues exactly after the
// last entry, including after a common prefix. Truncated is set only when
// another entry really follows.
//
// Cost: the cursor seeks to max(Prefix, StartAfter) and, after each common
// prefix, straight past every key under it (to the prefix's successor), so
// a page costs O(MaxKeys · log n) whatever the number of rolled-up keys.
func (s *Store) ListObjects(ctx context.Context, bucket string, opts storage.ListOptions) (storage.ListResult, error) {
	if err := ValidBucketName(bucket); err != nil {
		return storage.ListResult{}, err
	}
	if err := checkCtx(ctx); err != nil {
		return storage.ListResult{}, err
	}
	max := opts.MaxKeys
	if max <= 0 || max > MaxListKeys {
		max = MaxListKeys
	}
	var res storage.ListResult
	err := s.view(func(tx *bolt.Tx) error {
		ob, err := objectsTable(tx, bucket)
		if err != nil {
			return err
		}
		res, err = s.listPage(ob.Cursor(), opts.Prefix, opts.Delimiter, opts.StartAfter, max)
		return err
	})
	if err != nil {
		return storage.ListResult{}, fmt.Errorf("list %s: %w", bucket, err)
	}
	return res, nil
}

func (s *Store) listPage(c *bolt.Cursor, prefix, delim, startAfter string, max int) (storage.ListResult, error) {
	var res storage.ListResult
	pfx := []byte(prefix)
	after := []byte(startAfter)
	seek := pfx
	if bytes.Compare(after, seek) > 0 {
		seek = after
	}
	s.listSteps.Add(1)
	k, v := c.Seek(seek)
	count := 0
	for k != nil && bytes.HasPrefix(k, pfx) {
		if bytes.Compare(k, after) <= 0 { // only k == StartAfter gets here
			s.listSteps.Add(1)
			k, v = c.Next()
			continue
		}
		if delim != "" {
			if i := bytes.Index(k[len(pfx):], []byte(delim)); i >= 0 {
				cp := k[:len(pfx)+i+len(delim)]
				if bytes.Compare(cp, after) > 0 {
					if count == max {
						res.Truncated = true
						break
					}
					res.CommonPrefixes = append(res.CommonPrefixes, string(cp))
					res.NextStartAfter = string(cp)
					count++
				}
				// Skip every key under cp in one seek.
				next, ok := successor(cp)
				if !ok {
					break
				}
				s.listSteps.Add(1)
				k, v = c.Seek(next)
				continue
			}
		}
		if count == max {
			res.Truncated = true
			break
		}
		rec, err := decodeObject(v)
		if err != nil {
			return storage.ListResult{}, fmt.Errorf("fs: index entry %q: %w", k, err)
		}
		key := string(k)
		info := rec.info(key)
		info.Metadata = nil // listings carry no user metadata; HeadObject does
		res.Objects = append(res.Objects, info)
		res.NextStartAfter = key
		count++
		s.listSteps.Add(1)
		k, v = c.Next()
	}
	if !res.Truncated {
		res.NextStartAfter = ""
	}
	return res, nil
}

// successor returns the smallest byte string greater than every string
// that starts with p (p with its last non-0xFF byte incremented and the rest
// cut), or false when there is none (p is all 0xFF).
func successor(p []byte) ([]byte, bool) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] != 0xFF {
			out := make([]byte, i+1)
			copy(out, p[:i+1])
			out[i]++
			return out, true
		}
	}
	return nil, false
}
