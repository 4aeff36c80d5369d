package fs

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/s3fed/s3fed/internal/storage"
)

func TestMultipartRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{MinPartSize: 10})
	mkBucket(t, s, "mpu")
	putString(t, s, "mpu", "obj", "previous version")
	up, err := s.CreateMultipartUpload(ctx, "mpu", "obj", storage.PutOptions{ContentType: "video/mp4", Metadata: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(up.UploadID) != 32 || up.Key != "obj" || up.Initiated.IsZero() {
		t.Fatalf("upload = %+v", up)
	}
	p1 := bytes.Repeat([]byte("1"), 12)
	p2 := bytes.Repeat([]byte("2"), 10)
	p3 := []byte("3")
	// Part 2 first, then overwrite it: the later one counts.
	if _, err := s.UploadPart(ctx, "mpu", "obj", up.UploadID, 2, strings.NewReader("stale part two"), -1); err != nil {
		t.Fatal(err)
	}
	var infos []storage.PartInfo
	for i, p := range [][]byte{p1, p2, p3} {
		info, err := s.UploadPart(ctx, "mpu", "obj", up.UploadID, i+1, bytes.NewReader(p), int64(len(p)))
		if err != nil {
			t.Fatal(err)
		}
		if info.ETag != md5hex(p) || info.Size != int64(len(p)) || info.PartNumber != i+1 {
			t.Fatalf("part info = %+v", info)
		}
		infos = append(infos, info)
	}
	if data, _ := dataFiles(t, s); data != 3 { // 3 parts (the object is inline); the stale part 2 is gone
		t.Fatalf("%d content files", data)
	}
	parts, trunc, err := s.ListParts(ctx, "mpu", "obj", up.UploadID, 0, 2)
	if err != nil || trunc != true || len(parts) != 2 || parts[0].PartNumber != 1 || parts[1].PartNumber != 2 {
		t.Fatalf("ListParts page 1 = %+v %v %v", parts, trunc, err)
	}
	parts, trunc, err = s.ListParts(ctx, "mpu", "obj", up.UploadID, 2, 2)
	if err != nil || trunc || len(parts) != 1 || parts[0] != infos[2] {
		t.Fatalf("ListParts page 2 = %+v %v %v", parts, trunc, err)
	}
	if parts, trunc, err := s.ListParts(ctx, "mpu", "obj", up.UploadID, storage.MaxParts, 0); err != nil || trunc || len(parts) != 0 {
		t.Fatalf("ListParts past the end = %+v %v %v", parts, trunc, err)
	}
	complete := []storage.CompletePart{
		{PartNumber: 1, ETag: `"` + infos[0].ETag + `"`},
		{PartNumber: 2, ETag: strings.ToUpper(infos[1].ETag)},
		{PartNumber: 3, ETag: infos[2].ETag},
	}
	info, err := s.CompleteMultipartUpload(ctx, "mpu", "obj", up.UploadID, complete)
	if err != nil {
		t.Fatal(err)
	}
	h := md5.New()
	for _, p := range [][]byte{p1, p2, p3} {
		sum := md5.Sum(p)
		h.Write(sum[:])
	}
	wantETag := hex.EncodeToString(h.Sum(nil)) + "-3"
	if info.ETag != wantETag || info.Size != 23 || info.ContentType != "video/mp4" || info.Metadata["k"] != "v" {
		t.Fatalf("complete info = %+v, want ETag %s", info, wantETag)
	}
	got, body := getString(t, s, "mpu", "obj", nil)
	if body != string(p1)+string(p2)+string(p3) || got.ETag != wantETag {
		t.Fatalf("assembled body %q", body)
	}
	if data, tmp := dataFiles(t, s); data != 1 || tmp != 0 {
		t.Fatalf("after complete: %d content files, %d temp files", data, tmp)
	}
	if ups, _ := s.ListMultipartUploads(ctx, "mpu", ""); len(ups) != 0 {
		t.Fatalf("upload still listed: %+v", ups)
	}
	// Completing again (an SDK retrying after a lost answer) answers the
	// same object, as S3 does, while the key still holds it.
	again, err := s.CompleteMultipartUpload(ctx, "mpu", "obj", up.UploadID, complete)
	if err != nil || again.ETag != wantETag || again.Size != 23 {
		t.Fatalf("second complete: %+v, %v; want the same object", again, err)
	}
	putString(t, s, "mpu", "obj", "replaced")
	if _, err := s.CompleteMultipartUpload(ctx, "mpu", "obj", up.UploadID, complete); !errors.Is(err, storage.ErrUploadNotFound) {
		t.Fatalf("complete after the object was replaced: %v", err)
	}
}

func TestMultipartErrors(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{MinPartSize: 10})
	mkBucket(t, s, "mpu")
	up, err := s.CreateMultipartUpload(ctx, "mpu", "obj", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := up.UploadID
	big := bytes.Repeat([]byte("x"), 10)
	small := []byte("tiny")
	e1, _ := s.UploadPart(ctx, "mpu", "obj", id, 1, bytes.NewReader(small), 4)
	e2, _ := s.UploadPart(ctx, "mpu", "obj", id, 2, bytes.NewReader(big), 10)
	e3, _ := s.UploadPart(ctx, "mpu", "obj", id, 3, bytes.NewReader(small), 4)
	other, err := s.CreateMultipartUpload(ctx, "mpu", "other", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}

	uploadPartTests := []struct {
		name                string
		bucket, key, upload string
		part                int
		body                io.Reader
		size                int64
		want                error
	}{
		{"part 0", "mpu", "obj", id, 0, strings.NewReader("x"), 1, storage.ErrTooManyParts},
		{"part 10001", "mpu", "obj", id, 10001, strings.NewReader("x"), 1, storage.ErrTooManyParts},
		{"unknown upload", "mpu", "obj", strings.Repeat("0", 32), 1, strings.NewReader("x"), 1, storage.ErrUploadNotFound},
		{"malformed upload id", "mpu", "obj", "../../x", 1, strings.NewReader("x"), 1, storage.ErrUploadNotFound},
		{"upload of another key", "mpu", "obj", other.UploadID, 1, strings.NewReader("x"), 1, storage.ErrUploadNotFound},
		{"missing bucket", "nobucket", "obj", id, 1, strings.NewReader("x"), 1, storage.ErrBucketNotFound},
		{"short body", "mpu", "obj", id, 4, strings.NewReader("x"), 2, storage.ErrIncompleteBody},
		{"bad body", "mpu", "obj", id, 4, &errReader{strings.NewReader("data"), storage.ErrChecksumMismatch}, -1, storage.ErrChecksumMismatch},
	}
	for _, tt := range uploadPartTests {
		t.Run("UploadPart "+tt.name, func(t *testing.T) {
			_, err := s.UploadPart(ctx, tt.bucket, tt.key, tt.upload, tt.part, tt.body, tt.size)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if parts, _, _ := s.ListParts(ctx, "mpu", "obj", id, 0, 0); len(parts) != 3 {
		t.Fatalf("failed UploadParts changed the part list: %+v", parts)
	}

	completeTests := []struct {
		name  string
		parts []storage.CompletePart
		want  error
	}{
		{"empty list", nil, storage.ErrInvalidPart},
		{"descending", []storage.CompletePart{cpart(2, e2.ETag), cpart(1, e1.ETag)}, storage.ErrInvalidPartOrder},
		{"descending after a repeat", []storage.CompletePart{cpart(2, e2.ETag), cpart(2, e2.ETag), cpart(1, e1.ETag)}, storage.ErrInvalidPartOrder},
		{"repeat whose last entry is wrong", []storage.CompletePart{cpart(2, e2.ETag), cpart(2, e1.ETag)}, storage.ErrInvalidPart},
		{"wrong etag", []storage.CompletePart{cpart(2, e1.ETag)}, storage.ErrInvalidPart},
		{"missing part", []storage.CompletePart{cpart(2, e2.ETag), cpart(7, e2.ETag)}, storage.ErrInvalidPart},
		{"part number 0", []storage.CompletePart{cpart(0, e2.ETag)}, storage.ErrInvalidPart},
		{"small non-last part", []storage.CompletePart{cpart(1, e1.ETag), cpart(2, e2.ETag)}, storage.ErrEntityTooSmall},
	}
	for _, tt := range completeTests {
		t.Run("Complete "+tt.name, func(t *testing.T) {
			_, err := s.CompleteMultipartUpload(ctx, "mpu", "obj", id, tt.parts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := s.CompleteMultipartUpload(ctx, "mpu", "obj", other.UploadID, []storage.CompletePart{cpart(1, e1.ETag)}); !errors.Is(err, storage.ErrUploadNotFound) {
		t.Fatalf("complete with another key's upload: %v", err)
	}
	if _, err := s.CompleteMultipartUpload(ctx, "mpu", "obj", id, make([]storage.CompletePart, storage.MaxParts+1)); !errors.Is(err, storage.ErrTooManyParts) {
		t.Fatalf("complete with too many parts: %v", err)
	}
	s.maxObjectSize = 13
	if _, err := s.CompleteMultipartUpload(ctx, "mpu", "obj", id, []storage.CompletePart{cpart(2, e2.ETag), cpart(3, e3.ETag)}); !errors.Is(err, storage.ErrEntityTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	s.maxObjectSize = MaxObjectSize
	s.maxPutSize = 5
	if _, err := s.UploadPart(ctx, "mpu", "obj", id, 9, bytes.NewReader(big), -1); !errors.Is(err, storage.ErrEntityTooLarge) {
		t.Fatalf("part too large: %v", err)
	}
	s.maxPutSize = MaxPutSize
	if _, err := s.HeadObject(ctx, "mpu", "obj"); !errors.Is(err, storage.ErrObjectNotFound) {
		t.Fatalf("a failed complete created the object: %v", err)
	}
	// Parts subset: skipping part 1 is fine, the last part may be small.
	info, err := s.CompleteMultipartUpload(ctx, "mpu", "obj", id, []storage.CompletePart{cpart(2, e2.ETag), cpart(3, e3.ETag)})
	if err != nil {
		t.Fatal(err)
	}
	if _, body := getString(t, s, "mpu", "obj", nil); body != string(big)+string(small) || !strings.HasSuffix(info.ETag, "-2") {
		t.Fatalf("subset complete: %q %s", body, info.ETag)
	}
	if data, tmp := dataFiles(t, s); data != 1 || tmp != 0 { // unlisted part 1 removed too
		t.Fatalf("after complete: %d content files, %d temp files", data, tmp)
	}

	// Abort.
	if err := s.AbortMultipartUpload(ctx, "mpu", "other", other.UploadID); err != nil {
		t.Fatal(err)
	}
	if err := s.AbortMultipartUpload(ctx, "mpu", "other", other.UploadID); !errors.Is(err, storage.ErrUploadNotFound) {
		t.Fatalf("second abort: %v", err)
	}
	if _, _, err := s.ListParts(ctx, "mpu", "other", other.UploadID, 0, 0); !errors.Is(err, storage.ErrUploadNotFound) {
		t.Fatalf("ListParts after abort: %v", err)
	}
	if _, err := s.CreateMultipartUpload(ctx, "nobucket", "k", storage.PutOptions{}); !errors.Is(err, storage.ErrBucketNotFound) {
		t.Fatalf("create in missing bucket: %v", err)
	}
}

func TestMultipartIfNoneMatchAndAbortCleansParts(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{MinPartSize: 1})
	mkBucket(t, s, "mpu")
	up, err := s.CreateMultipartUpload(ctx, "mpu", "k", storage.PutOptions{IfNoneMatch: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.UploadPart(ctx, "mpu", "k", up.UploadID, 1, strings.NewReader("data"), 4)
	if err != nil {
		t.Fatal(err)
	}
	putString(t, s, "mpu", "k", "someone was first")
	if _, err := s.CompleteMultipartUpload(ctx, "mpu", "k", up.UploadID, []storage.CompletePart{cpart(1, p.ETag)}); !errors.Is(err, storage.ErrPreconditionFailed) {
		t.Fatalf("conditional complete: %v", err)
	}
	if _, body := getString(t, s, "mpu", "k", nil); body != "someone was first" {
		t.Fatalf("body %q", body)
	}
	if err := s.AbortMultipartUpload(ctx, "mpu", "k", up.UploadID); err != nil {
		t.Fatal(err)
	}
	if data, tmp := dataFiles(t, s); data != 0 || tmp != 0 { // the object is inline
		t.Fatalf("after abort: %d content files, %d temp files", data, tmp)
	}
}

func TestUploadPartCopy(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{MinPartSize: 1})
	mkBucket(t, s, "mpu")
	putString(t, s, "mpu", "src", "0123456789")
	up, err := s.CreateMultipartUpload(ctx, "mpu", "dst", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		rng  *storage.Range
		want string
		err  error
	}{
		{"whole", nil, "0123456789", nil},
		{"range", &storage.Range{Start: 2, Length: 3}, "234", nil},
		{"to the end", &storage.Range{Start: 8, Length: 2}, "89", nil},
		{"past the end", &storage.Range{Start: 8, Length: 3}, "", storage.ErrInvalidRange},
		{"negative", &storage.Range{Start: -1, Length: 3}, "", storage.ErrInvalidRange},
		{"empty", &storage.Range{Start: 0, Length: 0}, "", storage.ErrInvalidRange},
	}
	var complete []storage.CompletePart
	var want string
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := s.UploadPartCopy(ctx, "mpu", "dst", up.UploadID, i+1, "mpu", "src", tt.rng)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.ETag != md5hex([]byte(tt.want)) || info.Size != int64(len(tt.want)) {
				t.Fatalf("part %+v", info)
			}
			complete = append(complete, storage.CompletePart{PartNumber: i + 1, ETag: info.ETag})
			want += tt.want
		})
	}
	if _, err := s.UploadPartCopy(ctx, "mpu", "dst", up.UploadID, 9, "mpu", "missing", nil); !errors.Is(err, storage.ErrObjectNotFound) {
		t.Fatalf("missing source: %v", err)
	}
	if _, err := s.UploadPartCopy(ctx, "mpu", "dst", up.UploadID, 0, "mpu", "src", nil); !errors.Is(err, storage.ErrTooManyParts) {
		t.Fatalf("part 0: %v", err)
	}
	s.maxPutSize = 5
	if _, err := s.UploadPartCopy(ctx, "mpu", "dst", up.UploadID, 9, "mpu", "src", nil); !errors.Is(err, storage.ErrEntityTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	s.maxPutSize = MaxPutSize
	if _, err := s.CompleteMultipartUpload(ctx, "mpu", "dst", up.UploadID, complete); err != nil {
		t.Fatal(err)
	}
	if _, body := getString(t, s, "mpu", "dst", nil); body != want {
		t.Fatalf("body %q want %q", body, want)
	}
}

func TestListMultipartUploads(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "mpu")
	var ids []string
	for _, k := range []string{"b/2", "a", "b/1", "a", "c"} {
		up, err := s.CreateMultipartUpload(ctx, "mpu", k, storage.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k+"="+up.UploadID)
	}
	all, err := s.ListMultipartUploads(ctx, "mpu", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range all {
		got = append(got, u.Key+"="+u.UploadID)
	}
	// Key order, then initiation order for the two uploads of "a".
	want := []string{ids[1], ids[3], ids[2], ids[0], ids[4]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	b, err := s.ListMultipartUploads(ctx, "mpu", "b/")
	if err != nil || len(b) != 2 || b[0].Key != "b/1" || b[1].Key != "b/2" {
		t.Fatalf("prefix b/: %+v %v", b, err)
	}
	if _, err := s.ListMultipartUploads(ctx, "nobucket", ""); !errors.Is(err, storage.ErrBucketNotFound) {
		t.Fatalf("missing bucket: %v", err)
	}
}

func TestRecordsRejectCorruption(t *testing.T) {
	o := objectRec{size: 5, mtime: 7, etag: "e", contentType: "t", file: "00/f", meta: map[string]string{"a": "b"}}
	v := o.encode()
	got, err := decodeObject(v)
	if err != nil || got.size != 5 || got.meta["a"] != "b" || got.file != "00/f" {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for i := range v {
		if _, err := decodeObject(v[:i]); err == nil {
			t.Fatalf("truncated record of %d bytes decoded", i)
		}
	}
	if _, err := decodeUpload(nil); err == nil {
		t.Fatal("empty upload record decoded")
	}
	if _, err := decodePart([]byte{9}); err == nil {
		t.Fatal("unknown version decoded")
	}
	if _, _, ok := splitUploadKey([]byte("short")); ok {
		t.Fatal("short upload key split")
	}
}

func cpart(n int, etag string) storage.CompletePart {
	return storage.CompletePart{PartNumber: n, ETag: etag}
}

func TestMultipartConcurrentParts(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{MinPartSize: 1000})
	mkBucket(t, s, "mpu")
	up, err := s.CreateMultipartUpload(ctx, "mpu", "k", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	bodies := make([][]byte, n)
	etags := make([]string, n)
	errs := make(chan error, n*2)
	done := make(chan struct{})
	for i := range n {
		bodies[i] = bytesOf(1000+i*37, byte(i))
		go func() {
			// Every part is uploaded twice; the second upload wins.
			if _, err := s.UploadPart(ctx, "mpu", "k", up.UploadID, i+1, strings.NewReader("first try"), -1); err != nil {
				errs <- err
			}
			p, err := s.UploadPart(ctx, "mpu", "k", up.UploadID, i+1, bytes.NewReader(bodies[i]), int64(len(bodies[i])))
			if err != nil {
				errs <- err
			}
			etags[i] = p.ETag
			done <- struct{}{}
		}()
	}
	for range n {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var complete []storage.CompletePart
	var want []byte
	for i := range n {
		complete = append(complete, cpart(i+1, etags[i]))
		want = append(want, bodies[i]...)
	}
	if _, err := s.CompleteMultipartUpload(ctx, "mpu", "k", up.UploadID, complete); err != nil {
		t.Fatal(err)
	}
	if _, got := getString(t, s, "mpu", "k", nil); got != string(want) {
		t.Fatal("assembled bytes differ")
	}
	if data, tmp := dataFiles(t, s); data != 1 || tmp != 0 {
		t.Fatalf("%d content files, %d temp files", data, tmp)
	}
}
