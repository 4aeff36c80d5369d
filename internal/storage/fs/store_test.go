package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/storage"
)

func TestValidBucketName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"abc", true},
		{"my-bucket.data-2", true},
		{strings.Repeat("a", 63), true},
		{"1bucket", true},
		{"ab", false},
		{strings.Repeat("a", 64), false},
		{"", false},
		{"Upper", false},
		{"under_score", false},
		{"-start", false},
		{"end-", false},
		{".start", false},
		{"end.", false},
		{"a..b", false},
		{"192.168.5.4", false},
		{"192.168.05.4", false},
		{"1.2.3.4.5", true},
		{"999.1.1.1", false},
		{"1.2.3", true},
		{"1.2.3.4a", true},
		{"1..2.3", false},
		{"xn--abc", false},
		{"sthree-bucket", false},
		{"amzn-s3-demo-bucket", false},
		{"bucket-s3alias", false},
		{"bucket--ol-s3", false},
		{"bucket.mrap", false},
		{"bucket--x-s3", false},
		{"bucket--table-s3", false},
		{"a b", false},
		{"buc/ket", false},
		{"bücket", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidBucketName(tt.name)
			if tt.ok && err != nil {
				t.Fatalf("want valid, got %v", err)
			}
			if !tt.ok && !errors.Is(err, storage.ErrInvalidBucketName) {
				t.Fatalf("want ErrInvalidBucketName, got %v", err)
			}
		})
	}
}

func TestBuckets(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for _, b := range []string{"zeta", "alpha", "mid.dle"} {
		mkBucket(t, s, b)
	}
	if err := s.CreateBucket(ctx, "alpha"); !errors.Is(err, storage.ErrBucketExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := s.CreateBucket(ctx, "Bad_Name"); !errors.Is(err, storage.ErrInvalidBucketName) {
		t.Fatalf("bad name: %v", err)
	}
	list, err := s.ListBuckets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range list {
		names = append(names, b.Name)
		if b.Created.IsZero() {
			t.Errorf("%s: zero Created", b.Name)
		}
	}
	if got := strings.Join(names, ","); got != "alpha,mid.dle,zeta" {
		t.Fatalf("ListBuckets = %s", got)
	}
	if info, err := s.HeadBucket(ctx, "alpha"); err != nil || info.Name != "alpha" {
		t.Fatalf("HeadBucket = %+v, %v", info, err)
	}
	if _, err := s.HeadBucket(ctx, "nope"); !errors.Is(err, storage.ErrBucketNotFound) {
		t.Fatalf("HeadBucket missing: %v", err)
	}
	if _, err := s.HeadBucket(ctx, "NO"); !errors.Is(err, storage.ErrInvalidBucketName) {
		t.Fatalf("HeadBucket invalid: %v", err)
	}

	// Not empty while it holds an object.
	putString(t, s, "alpha", "k", "v")
	if err := s.DeleteBucket(ctx, "alpha"); !errors.Is(err, storage.ErrBucketNotEmpty) {
		t.Fatalf("DeleteBucket non-empty: %v", err)
	}
	if err := s.DeleteObject(ctx, "alpha", "k"); err != nil {
		t.Fatal(err)
	}
	// An in-progress upload does not keep the bucket alive; it goes with it.
	up, err := s.CreateMultipartUpload(ctx, "alpha", "big", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UploadPart(ctx, "alpha", "big", up.UploadID, 1, strings.NewReader("part"), 4); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBucket(ctx, "alpha"); err != nil {
		t.Fatalf("DeleteBucket with upload: %v", err)
	}
	if n, _ := dataFiles(t, s); n != 0 {
		t.Fatalf("%d content files left after deleting the bucket", n)
	}
	if err := s.DeleteBucket(ctx, "alpha"); !errors.Is(err, storage.ErrBucketNotFound) {
		t.Fatalf("DeleteBucket twice: %v", err)
	}
	if _, err := s.UploadPart(ctx, "alpha", "big", up.UploadID, 2, strings.NewReader("part"), 4); !errors.Is(err, storage.ErrBucketNotFound) {
		t.Fatalf("UploadPart after bucket deletion: %v", err)
	}
	// Recreated bucket starts empty.
	mkBucket(t, s, "alpha")
	if res, err := s.ListObjects(ctx, "alpha", storage.ListOptions{}); err != nil || len(res.Objects) != 0 {
		t.Fatalf("recreated bucket: %+v %v", res, err)
	}
	if ups, err := s.ListMultipartUploads(ctx, "alpha", ""); err != nil || len(ups) != 0 {
		t.Fatalf("recreated bucket uploads: %+v %v", ups, err)
	}
}

var contentName = regexp.MustCompile(`^[0-9a-f]{2}/[0-9a-f]{32}$`)

func TestObjectKeysNeverBecomePaths(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "keys")
	keys := []string{
		"../../etc/passwd", "a//b", "%2F", "%2e%2e/x", "/leading", "//", "..", ".", "a/../b",
		"trailing/", "日本語/ключ/🙂", "nul\x00byte", "new\nline", "back\\slash", "sp ace",
		strings.Repeat("k", MaxKeyLength), strings.Repeat("é", MaxKeyLength/2),
	}
	for i, k := range keys {
		putString(t, s, "keys", k, fmt.Sprintf("body-%d", i))
	}
	for i, k := range keys {
		if _, body := getString(t, s, "keys", k, nil); body != fmt.Sprintf("body-%d", i) {
			t.Errorf("key %q: body %q", k, body)
		}
	}
	res, err := s.ListObjects(ctx, "keys", storage.ListOptions{})
	if err != nil || len(res.Objects) != len(keys) {
		t.Fatalf("listing: %d objects, %v", len(res.Objects), err)
	}
	// Nothing but the index, its journal, empty tmp and random content names on disk.
	err = filepath.WalkDir(s.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(s.dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "index.db" || rel == "index.wal" {
			return nil
		}
		if !strings.HasPrefix(rel, "data/") || !contentName.MatchString(strings.TrimPrefix(rel, "data/")) {
			t.Errorf("unexpected file %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	bad := []struct {
		name, key string
	}{
		{"empty", ""},
		{"too long", strings.Repeat("k", MaxKeyLength+1)},
		{"multibyte too long", strings.Repeat("é", MaxKeyLength/2) + "x"},
		{"invalid utf-8", "a\xffb"},
		{"truncated utf-8", "\xe6\x97"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.PutObject(ctx, "keys", tt.key, strings.NewReader("x"), storage.PutOptions{Size: 1})
			if !errors.Is(err, storage.ErrInvalidObjectName) {
				t.Errorf("PutObject: %v", err)
			}
			if _, _, err := s.GetObject(ctx, "keys", tt.key, nil); !errors.Is(err, storage.ErrInvalidObjectName) {
				t.Errorf("GetObject: %v", err)
			}
			if _, err := s.HeadObject(ctx, "keys", tt.key); !errors.Is(err, storage.ErrInvalidObjectName) {
				t.Errorf("HeadObject: %v", err)
			}
			if err := s.DeleteObject(ctx, "keys", tt.key); !errors.Is(err, storage.ErrInvalidObjectName) {
				t.Errorf("DeleteObject: %v", err)
			}
			if _, err := s.CreateMultipartUpload(ctx, "keys", tt.key, storage.PutOptions{}); !errors.Is(err, storage.ErrInvalidObjectName) {
				t.Errorf("CreateMultipartUpload: %v", err)
			}
		})
	}
}

func TestPutGetHead(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "bkt")
	body := bytesOf(200_000, 3)
	meta := map[string]string{"color": "blue", "Cache-Control": "no-cache"}
	info, err := s.PutObject(ctx, "bkt", "obj", bytes.NewReader(body), storage.PutOptions{
		ContentType: "application/x-test", Metadata: meta, Size: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	meta["color"] = "mutated after the call" // the store keeps its own copy
	if info.ETag != md5hex(body) || info.Size != int64(len(body)) || info.Key != "obj" {
		t.Fatalf("PutObject info = %+v", info)
	}
	head, err := s.HeadObject(ctx, "bkt", "obj")
	if err != nil {
		t.Fatal(err)
	}
	if head.ETag != info.ETag || head.Size != info.Size || head.ContentType != "application/x-test" ||
		head.Metadata["color"] != "blue" || head.Metadata["Cache-Control"] != "no-cache" || !head.LastModified.Equal(info.LastModified) {
		t.Fatalf("HeadObject = %+v", head)
	}
	got, rc, err := s.GetObject(ctx, "bkt", "obj", nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, rc); err != nil { // exercises WriteTo
		t.Fatal(err)
	}
	rc.Close()
	if !bytes.Equal(buf.Bytes(), body) || got.ETag != info.ETag {
		t.Fatal("GetObject returned different bytes")
	}

	// Empty object.
	if info := putString(t, s, "bkt", "empty", ""); info.ETag != "d41d8cd98f00b204e9800998ecf8427e" || info.Size != 0 {
		t.Fatalf("empty object info = %+v", info)
	}
	if _, body := getString(t, s, "bkt", "empty", nil); body != "" {
		t.Fatalf("empty body = %q", body)
	}

	// Missing things.
	if _, _, err := s.GetObject(ctx, "bkt", "missing", nil); !errors.Is(err, storage.ErrObjectNotFound) {
		t.Fatalf("GetObject missing: %v", err)
	}
	if _, err := s.HeadObject(ctx, "bkt", "missing"); !errors.Is(err, storage.ErrObjectNotFound) {
		t.Fatalf("HeadObject missing: %v", err)
	}
	if _, _, err := s.GetObject(ctx, "nobucket", "k", nil); !errors.Is(err, storage.ErrBucketNotFound) {
		t.Fatalf("GetObject no bucket: %v", err)
	}
	if _, err := s.PutObject(ctx, "nobucket", "k", strings.NewReader("x"), storage.PutOptions{Size: 1}); !errors.Is(err, storage.ErrBucketNotFound) {
		t.Fatalf("PutObject no bucket: %v", err)
	}
}

func TestPutFailuresCommitNothing(t *testing.T) {
	// Unit 1 keeps every body inline; unit 5000 sends every body through a
	// content file. Both paths must refuse the same things the same way.
	for _, unit := range []int{1, 5000} {
		t.Run(fmt.Sprintf("unit %d", unit), func(t *testing.T) { testPutFailures(t, unit) })
	}
}

func testPutFailures(t *testing.T, u int) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "bkt")
	body := func(n int) string { return strings.Repeat("a", n*u) }
	size := func(n int) int64 { return int64(n * u) }
	original := strings.Repeat("o", 8*u)
	putString(t, s, "bkt", "k", original)
	wantFiles := 0
	if len(original) > InlineMaxSize {
		wantFiles = 1
	}
	s.maxPutSize = size(1000)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	midCtx, midCancel := context.WithCancel(ctx)
	defer midCancel()
	badHash := errors.New("payload hash mismatch")
	tests := []struct {
		name string
		ctx  context.Context
		body io.Reader
		size int64
		want error
	}{
		{"short body", ctx, strings.NewReader(body(3)), size(4), storage.ErrIncompleteBody},
		{"long body", ctx, strings.NewReader(body(5)), size(4), storage.ErrIncompleteBody},
		{"reader error at EOF", ctx, &errReader{strings.NewReader(body(4)), badHash}, size(4), badHash},
		{"reader error, unknown size", ctx, &errReader{strings.NewReader(body(4)), storage.ErrChecksumMismatch}, -1, storage.ErrChecksumMismatch},
		{"declared too large", ctx, strings.NewReader("x"), size(1000) + 1, storage.ErrEntityTooLarge},
		{"streamed too large", ctx, strings.NewReader(body(1000) + "x"), -1, storage.ErrEntityTooLarge},
		{"canceled", canceled, strings.NewReader(body(4)), size(4), context.Canceled},
		{"canceled mid-body", midCtx, &cancelingReader{r: strings.NewReader(body(8)), cancel: midCancel}, size(8), context.Canceled},
		{"negative size", ctx, strings.NewReader(body(4)), -2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.PutObject(tt.ctx, "bkt", "k", tt.body, storage.PutOptions{Size: tt.size})
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if _, got := getString(t, s, "bkt", "k", nil); got != original {
				t.Fatalf("previous version damaged: %q", got)
			}
			if data, tmp := dataFiles(t, s); data != wantFiles || tmp != 0 {
				t.Fatalf("leftovers: %d content files, %d temp files", data, tmp)
			}
		})
	}
	// The limit itself is allowed, in both modes.
	if _, err := s.PutObject(ctx, "bkt", "max", strings.NewReader(body(1000)), storage.PutOptions{Size: size(1000)}); err != nil {
		t.Fatalf("exactly the limit: %v", err)
	}
	if _, err := s.PutObject(ctx, "bkt", "max", strings.NewReader(body(1000)), storage.PutOptions{Size: -1}); err != nil {
		t.Fatalf("exactly the limit, unknown size: %v", err)
	}
	_, err := s.PutObject(ctx, "bkt", "long", strings.NewReader(body(5)), storage.PutOptions{Size: size(4)})
	if err == nil || !strings.Contains(err.Error(), "longer") {
		t.Fatalf("long body message: %v", err)
	}
	if MaxPutSize != 5<<30 || MaxObjectSize != 5<<40 {
		t.Fatal("S3 limits changed")
	}
}

// cancelingReader cancels its context after the first read, like a client
// that goes away mid-upload.
type cancelingReader struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	if len(p) > 1000 {
		p = p[:1000]
	}
	n, err := c.r.Read(p)
	c.cancel()
	return n, err
}

func TestInlineAndFileVersions(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "bkt")
	steps := []struct {
		size  int
		known bool
		files int // content files after the step
	}{
		{InlineMaxSize, true, 0},
		{InlineMaxSize + 1, true, 1},
		{10, false, 0},
		{InlineMaxSize + 1, false, 1},
		{InlineMaxSize, false, 0},
		{200_000, false, 1},
		{0, true, 0},
		{200_000, true, 1},
	}
	for i, st := range steps {
		body := bytesOf(st.size, byte(i))
		size := int64(-1)
		if st.known {
			size = int64(st.size)
		}
		info, err := s.PutObject(ctx, "bkt", "k", bytes.NewReader(body), storage.PutOptions{Size: size})
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if info.ETag != md5hex(body) || info.Size != int64(st.size) {
			t.Fatalf("step %d: info %+v", i, info)
		}
		if _, got := getString(t, s, "bkt", "k", nil); got != string(body) {
			t.Fatalf("step %d: wrong bytes", i)
		}
		if st.size > 20 {
			if _, got := getString(t, s, "bkt", "k", &storage.Range{Start: 5, Length: 10}); got != string(body[5:15]) {
				t.Fatalf("step %d: wrong range bytes", i)
			}
		}
		if data, tmp := dataFiles(t, s); data != st.files || tmp != 0 {
			t.Fatalf("step %d: %d content files, %d temp files; want %d", i, data, tmp, st.files)
		}
	}
	// Copies in all four directions.
	small := bytesOf(100, 1)
	large := bytesOf(100_000, 2)
	if _, err := s.PutObject(ctx, "bkt", "small", bytes.NewReader(small), storage.PutOptions{Size: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutObject(ctx, "bkt", "large", bytes.NewReader(large), storage.PutOptions{Size: -1}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ src, dst, want string }{
		{"small", "c1", string(small)}, {"large", "c2", string(large)}, {"small", "large", string(small)}, {"c2", "small", string(large)},
	} {
		if _, err := s.CopyObject(ctx, "bkt", c.src, "bkt", c.dst, nil); err != nil {
			t.Fatal(err)
		}
		if _, got := getString(t, s, "bkt", c.dst, nil); got != c.want {
			t.Fatalf("copy %s to %s: wrong bytes", c.src, c.dst)
		}
	}
	// k (file), c2 (file), small (file, copied from c2); large and c1 inline.
	if data, _ := dataFiles(t, s); data != 3 {
		t.Fatalf("%d content files, want 3", data)
	}
	if err := s.DeleteObject(ctx, "bkt", "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.HeadObject(ctx, "bkt", "c1"); !errors.Is(err, storage.ErrObjectNotFound) {
		t.Fatalf("deleted inline object: %v", err)
	}
	// Reopen: inline objects survive, nothing is collected wrongly.
	dir := s.dir
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, dir, Options{})
	if _, got := getString(t, s2, "bkt", "large", nil); got != string(small) {
		t.Fatal("inline object lost on reopen")
	}
	if data, _ := dataFiles(t, s2); data != 3 {
		t.Fatalf("%d content files after reopen, want 3", data)
	}
}

func TestIfNoneMatch(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "bkt")
	opts := storage.PutOptions{Size: 1, IfNoneMatch: true}
	if _, err := s.PutObject(ctx, "bkt", "k", strings.NewReader("1"), opts); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutObject(ctx, "bkt", "k", strings.NewReader("2"), opts); !errors.Is(err, storage.ErrPreconditionFailed) {
		t.Fatalf("second conditional put: %v", err)
	}
	if _, body := getString(t, s, "bkt", "k", nil); body != "1" {
		t.Fatalf("body = %q", body)
	}
	// Many racers, one winner, decided at commit.
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.PutObject(ctx, "bkt", "race", strings.NewReader(fmt.Sprint(i%10)), opts)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, storage.ErrPreconditionFailed):
			t.Fatalf("unexpected error %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d conditional PUTs won", wins)
	}
	if data, tmp := dataFiles(t, s); data != 0 || tmp != 0 { // small bodies are inline
		t.Fatalf("leftovers: %d content files, %d temp files", data, tmp)
	}
}

func TestGetRanges(t *testing.T) {
	s := newStore(t)
	mkBucket(t, s, "bkt")
	putString(t, s, "bkt", "k", "0123456789")
	putString(t, s, "bkt", "empty", "")
	tests := []struct {
		name  string
		key   string
		rng   storage.Range
		want  string
		error bool
	}{
		{"first byte", "k", storage.Range{Start: 0, Length: 1}, "0", false},
		{"middle", "k", storage.Range{Start: 3, Length: 4}, "3456", false},
		{"to the end", "k", storage.Range{Start: 7, Length: 3}, "789", false},
		{"past the end is cut", "k", storage.Range{Start: 7, Length: 100}, "789", false},
		{"whole", "k", storage.Range{Start: 0, Length: 10}, "0123456789", false},
		{"last byte", "k", storage.Range{Start: 9, Length: 1}, "9", false},
		{"start at size", "k", storage.Range{Start: 10, Length: 1}, "", true},
		{"start past size", "k", storage.Range{Start: 11, Length: 1}, "", true},
		{"negative start", "k", storage.Range{Start: -1, Length: 1}, "", true},
		{"zero length", "k", storage.Range{Start: 0, Length: 0}, "", true},
		{"empty object", "empty", storage.Range{Start: 0, Length: 1}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := tt.rng
			_, rc, err := s.GetObject(context.Background(), "bkt", tt.key, &rng)
			if tt.error {
				if !errors.Is(err, storage.ErrInvalidRange) {
					t.Fatalf("err = %v, want ErrInvalidRange", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, _ := io.ReadAll(rc)
			if string(b) != tt.want {
				t.Fatalf("got %q want %q", b, tt.want)
			}
		})
	}
}

func TestReaderKeepsOldVersionAcrossOverwriteAndDelete(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "bkt")
	old := bytesOf(300_000, 1)
	if _, err := s.PutObject(ctx, "bkt", "k", bytes.NewReader(old), storage.PutOptions{Size: -1}); err != nil {
		t.Fatal(err)
	}
	_, rc, err := s.GetObject(ctx, "bkt", "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 1000)
	if _, err := io.ReadFull(rc, first); err != nil {
		t.Fatal(err)
	}
	putString(t, s, "bkt", "k", "new version")
	rest, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(append(first, rest...), old) {
		t.Fatalf("reader did not keep the old version (err %v)", err)
	}
	_, rc, err = s.GetObject(ctx, "bkt", "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteObject(ctx, "bkt", "k"); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(b) != "new version" {
		t.Fatalf("reader after delete: %q %v", b, err)
	}
	if data, _ := dataFiles(t, s); data != 0 {
		t.Fatalf("%d content files after delete", data)
	}
}

func TestConcurrentPutsSameKey(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "bkt")
	const writers, rounds = 8, 10
	bodies := make(map[string]bool)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				// Even writers stay inline, odd ones use content files, so
				// the key flips between the two representations.
				size := 10_000 + r
				if w%2 == 1 {
					size = 30_000 + r
				}
				body := bytesOf(size, byte(w*rounds+r))
				mu.Lock()
				bodies[md5hex(body)] = true
				mu.Unlock()
				if _, err := s.PutObject(ctx, "bkt", "hot", bytes.NewReader(body), storage.PutOptions{Size: int64(len(body))}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	// Readers run alongside and must always see a whole version.
	stop := make(chan struct{})
	var rwg sync.WaitGroup
	for range 4 {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				info, rc, err := s.GetObject(ctx, "bkt", "hot", nil)
				if errors.Is(err, storage.ErrObjectNotFound) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || md5hex(b) != info.ETag {
					t.Errorf("torn read: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	rwg.Wait()
	info, body := getString(t, s, "bkt", "hot", nil)
	if md5hex([]byte(body)) != info.ETag || !bodies[info.ETag] {
		t.Fatal("final version is not one that was written")
	}
	wantFiles := 0
	if info.Size > InlineMaxSize {
		wantFiles = 1
	}
	if data, tmp := dataFiles(t, s); data != wantFiles || tmp != 0 {
		t.Fatalf("leftovers: %d content files, %d temp files", data, tmp)
	}
}

func TestCloseDuringWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mkBucket(t, s, "bkt")
	const writers = 8
	var wg sync.WaitGroup
	okKeys := make(chan string, 10_000)
	started := make(chan struct{}, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				k := fmt.Sprintf("w%d-%d", w, i)
				_, err := s.PutObject(ctx, "bkt", k, strings.NewReader(k), storage.PutOptions{Size: int64(len(k))})
				if err != nil {
					if !errors.Is(err, ErrClosed) {
						t.Errorf("put after close: %v", err)
					}
					return
				}
				okKeys <- k
				if i == 2 {
					started <- struct{}{}
				}
			}
		}()
	}
	for range writers {
		<-started
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait() // no writer hangs
	close(okKeys)
	s2 := openStore(t, dir, Options{})
	n := 0
	for k := range okKeys {
		if _, got := getString(t, s2, "bkt", k, nil); got != k {
			t.Fatalf("%s: %q", k, got)
		}
		n++
	}
	t.Logf("%d acknowledged PUTs survived Close and reopen", n)
}

func TestDeleteObject(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "bkt")
	putString(t, s, "bkt", "k", "v")
	for i := range 2 { // idempotent
		if err := s.DeleteObject(ctx, "bkt", "k"); err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
	}
	if _, err := s.HeadObject(ctx, "bkt", "k"); !errors.Is(err, storage.ErrObjectNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.DeleteObject(ctx, "nobucket", "k"); !errors.Is(err, storage.ErrBucketNotFound) {
		t.Fatalf("no bucket: %v", err)
	}
}

func TestDeleteObjects(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "bkt")
	putString(t, s, "bkt", "small", "inline")
	if _, err := s.PutObject(ctx, "bkt", "large", bytes.NewReader(bytesOf(50_000, 1)), storage.PutOptions{Size: -1}); err != nil {
		t.Fatal(err)
	}
	putString(t, s, "bkt", "keep", "kept")
	errs, err := s.DeleteObjects(ctx, "bkt", []string{"small", "large", "absent", "", "small"})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []error{nil, nil, nil, storage.ErrInvalidObjectName, nil} {
		if !errors.Is(errs[i], want) || (want == nil && errs[i] != nil) {
			t.Errorf("errs[%d] = %v, want %v", i, errs[i], want)
		}
	}
	res, err := s.ListObjects(ctx, "bkt", storage.ListOptions{})
	if err != nil || len(res.Objects) != 1 || res.Objects[0].Key != "keep" {
		t.Fatalf("after DeleteObjects: %+v %v", res.Objects, err)
	}
	if data, _ := dataFiles(t, s); data != 0 {
		t.Fatalf("%d content files left", data)
	}
	if _, err := s.DeleteObjects(ctx, "nobucket", []string{"k"}); !errors.Is(err, storage.ErrBucketNotFound) {
		t.Fatalf("missing bucket: %v", err)
	}
	if _, err := s.DeleteObjects(ctx, "BAD", []string{"k"}); !errors.Is(err, storage.ErrInvalidBucketName) {
		t.Fatalf("bad bucket: %v", err)
	}
}

func TestCopyObject(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "src")
	mkBucket(t, s, "dst")
	body := bytesOf(100_000, 9)
	srcInfo, err := s.PutObject(ctx, "src", "a", bytes.NewReader(body), storage.PutOptions{
		Size: -1, ContentType: "text/plain", Metadata: map[string]string{"m": "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// COPY keeps metadata.
	info, err := s.CopyObject(ctx, "src", "a", "dst", "bkt", nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag != srcInfo.ETag || info.ContentType != "text/plain" || info.Metadata["m"] != "1" {
		t.Fatalf("COPY info = %+v", info)
	}
	if _, got := getString(t, s, "dst", "bkt", nil); got != string(body) {
		t.Fatal("COPY bytes differ")
	}
	// REPLACE uses opts.
	info, err = s.CopyObject(ctx, "src", "a", "dst", "c", &storage.PutOptions{ContentType: "image/png", Metadata: map[string]string{"n": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := s.HeadObject(ctx, "dst", "c"); h.ContentType != "image/png" || h.Metadata["n"] != "2" || h.Metadata["m"] != "" || info.ETag != srcInfo.ETag {
		t.Fatalf("REPLACE head = %+v", h)
	}
	// Onto itself with REPLACE.
	if _, err := s.CopyObject(ctx, "src", "a", "src", "a", &storage.PutOptions{ContentType: "x/y"}); err != nil {
		t.Fatal(err)
	}
	if h, got := getString(t, s, "src", "a", nil); h.ContentType != "x/y" || got != string(body) || len(h.Metadata) != 0 {
		t.Fatalf("self copy: %+v", h)
	}
	// Conditional copy.
	if _, err := s.CopyObject(ctx, "src", "a", "dst", "bkt", &storage.PutOptions{IfNoneMatch: true}); !errors.Is(err, storage.ErrPreconditionFailed) {
		t.Fatalf("conditional copy: %v", err)
	}
	// Errors.
	if _, err := s.CopyObject(ctx, "src", "missing", "dst", "x", nil); !errors.Is(err, storage.ErrObjectNotFound) {
		t.Fatalf("missing source: %v", err)
	}
	if _, err := s.CopyObject(ctx, "nobucket", "a", "dst", "x", nil); !errors.Is(err, storage.ErrBucketNotFound) {
		t.Fatalf("missing source bucket: %v", err)
	}
	if _, err := s.CopyObject(ctx, "src", "a", "nobucket", "x", nil); !errors.Is(err, storage.ErrBucketNotFound) {
		t.Fatalf("missing destination bucket: %v", err)
	}
	s.maxPutSize = 1000
	if _, err := s.CopyObject(ctx, "src", "a", "dst", "x", nil); !errors.Is(err, storage.ErrEntityTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	if data, tmp := dataFiles(t, s); data != 3 || tmp != 0 {
		t.Fatalf("leftovers: %d content files, %d temp files", data, tmp)
	}
}

func TestReopenKeepsDataAndCollectsGarbage(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mkBucket(t, s, "bkt")
	putString(t, s, "bkt", "keep", "kept bytes")
	up, err := s.CreateMultipartUpload(ctx, "bkt", "mp", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UploadPart(ctx, "bkt", "mp", up.UploadID, 1, strings.NewReader("p1"), 2); err != nil {
		t.Fatal(err)
	}
	// A second Store on the same directory is refused while the first is open.
	defer func(d time.Duration) { lockTimeout = d }(lockTimeout)
	lockTimeout = 50 * time.Millisecond
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("second Open of the same directory succeeded")
	}
	// What a crash leaves: the store as it is on disk while still open,
	// plus temp files and unreferenced content files.
	crashed := t.TempDir()
	copyDir(t, dir, crashed)
	junk := []string{"tmp/w-123", "tmp/mp-9", "data/ab/0123456789abcdef0123456789abcdef", "data/00/stray"}
	plant := func(root string) {
		for _, p := range junk {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, p), []byte("junk"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	plant(crashed)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	if _, err := s.HeadObject(ctx, "bkt", "keep"); !errors.Is(err, ErrClosed) {
		t.Fatal("HeadObject after Close succeeded")
	}
	if _, err := s.PutObject(ctx, "bkt", "x", strings.NewReader("x"), storage.PutOptions{Size: 1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("PutObject after Close: %v", err)
	}
	for _, d := range []string{dir, crashed} {
		s2 := openStore(t, d, Options{})
		if _, body := getString(t, s2, "bkt", "keep", nil); body != "kept bytes" {
			t.Fatalf("after reopen: %q", body)
		}
		parts, _, err := s2.ListParts(ctx, "bkt", "mp", up.UploadID, 0, 0)
		if err != nil || len(parts) != 1 {
			t.Fatalf("parts after reopen: %v %v", parts, err)
		}
		// After the crash the index is scanned and the junk goes; after a
		// clean Close there is nothing to scan for, and Open does not read
		// the whole index.
		if want := d == crashed; s2.gcScanned != want {
			t.Fatalf("%s: garbage scan %v, want %v", d, s2.gcScanned, want)
		}
		if data, tmp := dataFiles(t, s2); data != 1 || tmp != 0 { // the part; "keep" is inline
			t.Fatalf("after reopen: %d content files, %d temp files", data, tmp)
		}
	}
	// Temp files are removed at every start, clean or not.
	clean := t.TempDir()
	s3 := openStore(t, clean, Options{})
	mkBucket(t, s3, "bkt")
	if err := s3.Close(); err != nil {
		t.Fatal(err)
	}
	plant(clean)
	for _, p := range junk[2:] {
		_ = os.Remove(filepath.Join(clean, p))
	}
	s4 := openStore(t, clean, Options{})
	if data, tmp := dataFiles(t, s4); s4.gcScanned || data != 0 || tmp != 0 {
		t.Fatalf("clean start with temp junk: scanned %v, %d content files, %d temp files", s4.gcScanned, data, tmp)
	}
	if _, err := Open(dir+"/index.db/x", Options{}); err == nil {
		t.Fatal("Open under a file succeeded")
	}
	if _, err := Open(t.TempDir(), Options{MinPartSize: -1}); err == nil {
		t.Fatal("negative MinPartSize accepted")
	}
}
