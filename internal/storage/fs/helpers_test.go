package fs

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3fed/s3fed/internal/storage"
)

func openStore(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newStore(t testing.TB) *Store {
	t.Helper()
	return openStore(t, t.TempDir(), Options{MinPartSize: 5})
}

func mkBucket(t testing.TB, s *Store, name string) {
	t.Helper()
	if err := s.CreateBucket(context.Background(), name); err != nil {
		t.Fatalf("CreateBucket(%q): %v", name, err)
	}
}

func putString(t testing.TB, s *Store, bucket, key, body string) storage.ObjectInfo {
	t.Helper()
	info, err := s.PutObject(context.Background(), bucket, key, strings.NewReader(body), storage.PutOptions{Size: int64(len(body))})
	if err != nil {
		t.Fatalf("PutObject(%q): %v", key, err)
	}
	return info
}

func getString(t testing.TB, s *Store, bucket, key string, rng *storage.Range) (storage.ObjectInfo, string) {
	t.Helper()
	info, rc, err := s.GetObject(context.Background(), bucket, key, rng)
	if err != nil {
		t.Fatalf("GetObject(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	return info, string(b)
}

func md5hex(b []byte) string {
	h := md5.Sum(b)
	return hex.EncodeToString(h[:])
}

// dataFiles counts content files under DIR/data and temp files under DIR/tmp.
func dataFiles(t testing.TB, s *Store) (data, tmp int) {
	t.Helper()
	err := filepath.WalkDir(s.dataDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			data++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(s.tmpDir)
	if err != nil {
		t.Fatal(err)
	}
	return data, len(ents)
}

// errReader returns its data and then err instead of io.EOF, like the front
// door's verifying readers on a bad payload hash.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

func bytesOf(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7) + byte(i>>8)
	}
	return b
}

var _ = bytes.Equal
