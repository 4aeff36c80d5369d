package fs

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"

	"github.com/s3fed/s3fed/internal/storage"
)

// bodyTooLongError is a body that goes on past its declared length. It
// matches storage.ErrIncompleteBody under errors.Is, because S3 reports any
// mismatch between Content-Length and the body as IncompleteBody, while its
// message says which way the mismatch went.
type bodyTooLongError struct{ declared int64 }

func (e *bodyTooLongError) Error() string {
	return fmt.Sprintf("body longer than the declared %d bytes", e.declared)
}

func (e *bodyTooLongError) Is(target error) bool { return target == storage.ErrIncompleteBody }

// written describes stored bytes not yet referenced by the index: either a
// content file that is durable under DIR/data, or (inline != nil) a small
// body held in memory that the index commit itself will make durable.
type written struct {
	file   string // "XX/hex"; "" when inline
	inline []byte
	size   int64
	md5    [md5.Size]byte
}

// writeSmall is writeData for objects: a body of at most InlineMaxSize bytes
// comes back inline (read into the pooled buffer, then copied to its exact
// size); a larger one goes to a content file. Memory stays one buffer either
// way: the buffered prefix is replayed in front of the rest of the body.
func (s *Store) writeSmall(ctx context.Context, r io.Reader, declared, limit int64) (written, error) {
	if declared > InlineMaxSize || declared < -1 || declared > limit {
		return s.writeData(ctx, r, declared, limit)
	}
	if err := checkCtx(ctx); err != nil {
		return written{}, err
	}
	bp := s.getBuf()
	defer s.putBuf(bp)
	buf := (*bp)[:InlineMaxSize+1]
	n := 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if cerr := checkCtx(ctx); cerr != nil {
			return written{}, cerr
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return written{}, fmt.Errorf("fs: reading body: %w", err)
		}
	}
	if n == len(buf) { // larger than inline: stream prefix + rest to a file
		return s.writeData(ctx, io.MultiReader(bytes.NewReader(buf[:n]), r), declared, limit)
	}
	switch {
	case int64(n) > limit && declared < 0:
		return written{}, fmt.Errorf("%w: body exceeds the limit of %d bytes", storage.ErrEntityTooLarge, limit)
	case declared >= 0 && int64(n) > declared:
		return written{}, &bodyTooLongError{declared: declared}
	case declared >= 0 && int64(n) < declared:
		return written{}, fmt.Errorf("%w: got %d of %d bytes", storage.ErrIncompleteBody, n, declared)
	}
	w := written{inline: append(make([]byte, 0, n), buf[:n]...), size: int64(n), md5: md5.Sum(buf[:n])}
	return w, nil
}

// writeData streams r into a new durable content file, computing its MD5.
// declared is the exact length r must have, or -1 when unknown; limit is
// the most bytes accepted (ErrEntityTooLarge beyond). r is read to EOF even
// when declared is known, so a verifying reader that fails at EOF is heard.
// On any error nothing is left behind.
func (s *Store) writeData(ctx context.Context, r io.Reader, declared, limit int64) (written, error) {
	if declared > limit {
		return written{}, fmt.Errorf("%w: declared size %d exceeds the limit of %d bytes", storage.ErrEntityTooLarge, declared, limit)
	}
	if declared < -1 {
		return written{}, fmt.Errorf("fs: invalid declared size %d", declared)
	}
	if err := checkCtx(ctx); err != nil {
		return written{}, err
	}
	f, err := os.CreateTemp(s.tmpDir, "w-")
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
	h := md5.New()
	n, err := s.copyBody(ctx, f, h, r, declared, limit)
	if err != nil {
		return written{}, err
	}
	w, err := s.place(f, h, n)
	if err != nil {
		return written{}, err
	}
	ok = true
	return w, nil
}

// place makes the temp file f durable under DIR/data and closes it: fsync
// the file, rename it to a fresh random name, fsync the directory. The
// caller's deferred cleanup must not run afterwards (it would find nothing
// to remove anyway: the temp name is gone).
func (s *Store) place(f *os.File, h hash.Hash, size int64) (written, error) {
	tmp := f.Name()
	if err := f.Sync(); err != nil {
		return written{}, fmt.Errorf("fs: syncing %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return written{}, fmt.Errorf("fs: closing %s: %w", tmp, err)
	}
	name, err := newFileName()
	if err != nil {
		return written{}, err
	}
	final := s.dataPath(name)
	idx, _ := strconv.ParseUint(name[:2], 16, 8)
	d, err := s.dataDirHandle(int(idx))
	if err != nil {
		return written{}, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return written{}, fmt.Errorf("fs: renaming into place: %w", err)
	}
	if err := d.Sync(); err != nil {
		_ = os.Remove(final)
		return written{}, fmt.Errorf("fs: syncing data directory: %w", err)
	}
	w := written{file: name, size: size}
	h.Sum(w.md5[:0])
	return w, nil
}

// copyBody copies r to f and h (when not nil) through one pooled buffer, enforcing the
// declared length and the limit, and checking ctx between reads. It uses
// neither ReaderFrom nor WriterTo, so memory stays one buffer whatever r is.
func (s *Store) copyBody(ctx context.Context, f io.Writer, h hash.Hash, r io.Reader, declared, limit int64) (int64, error) {
	bp := s.getBuf()
	defer s.putBuf(bp)
	buf := *bp
	max := limit
	if declared >= 0 {
		max = declared
	}
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("fs: %w", err)
		}
		// Read at most one byte past max, which is enough to see an overflow.
		want := len(buf)
		if rem := max + 1 - n; rem < int64(want) {
			want = int(rem)
		}
		k, rerr := r.Read(buf[:want])
		if k > 0 {
			if n+int64(k) > max {
				if declared >= 0 {
					return n, &bodyTooLongError{declared: declared}
				}
				return n, fmt.Errorf("%w: body exceeds the limit of %d bytes", storage.ErrEntityTooLarge, limit)
			}
			if h != nil {
				h.Write(buf[:k])
			}
			if _, err := f.Write(buf[:k]); err != nil {
				return n, fmt.Errorf("fs: writing content: %w", err)
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return n, fmt.Errorf("fs: reading body: %w", rerr)
		}
	}
	if declared >= 0 && n < declared {
		return n, fmt.Errorf("%w: got %d of %d bytes", storage.ErrIncompleteBody, n, declared)
	}
	return n, nil
}

// errorsIsNotExist is errors.Is(err, os.ErrNotExist), named for readability
// at the call sites that race with unlinks.
func errorsIsNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
