package fs

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/s3fed/s3fed/internal/storage"
)

// Reference values from ceph/s3-tests (test_object_checksum_*,
// test_multipart_use_cksum_helper_*), computed there independently of any
// Go code: 1024 'A's, and three 5 MiB parts of 'A', 'B' and 'C'.
const (
	sha256Of1KiBA    = "arcu6553sHVAiX4MjW0j7I7vD4w6R+Gz9Ok0Q9lTa+0="
	crc64NVMEOf1KiBA = "Qeh8oXvGiSo="
)

var threeParts = struct {
	sha256, crc32, crc32c, crc64nvme [3]string
	sha256Composite                  string
	sha1Composite                    string
	crc32Full, crc32cFull, crc64Full string
}{
	sha256:          [3]string{"275VF5loJr1YYawit0XSHREhkFXYkkPKGuoK0x9VKxI=", "mrHwOfjTL5Zwfj74F05HOQGLdUb7E5szdCbxgUSq6NM=", "Vw7oB/nKQ5xWb3hNgbyfkvDiivl+U+/Dft48nfJfDow="},
	crc32:           [3]string{"JRTCyQ==", "QoZTGg==", "YAgjqw=="},
	crc64nvme:       [3]string{"L/E4WYn8v98=", "xW1l19VobYM=", "cK5MnNaWrW4="},
	sha256Composite: "uWBwpe1dxI4Vw8Gf0X9ynOdw/SS6VBzfWm9giiv1sf4=-3",
	sha1Composite:   "sizjvY4eud3MrcHdZM3cQ/ol39o=-3",
	crc32Full:       "WgDhBQ==",
	crc32cFull:      "xU+Krw==",
	crc64Full:       "i+6LR0y3eFo=",
}

func TestPutObjectChecksum(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "bkt")
	body := strings.Repeat("A", 1024)
	for _, tt := range []struct {
		algo, want string
	}{
		{storage.ChecksumSHA256, sha256Of1KiBA},
		{storage.ChecksumCRC64NVME, crc64NVMEOf1KiBA},
	} {
		t.Run(tt.algo, func(t *testing.T) {
			// The value is computed from the bytes (a trailer checksum is
			// known only at the end), and kept.
			info, err := s.PutObject(ctx, "bkt", "k", strings.NewReader(body), storage.PutOptions{Size: 1024, Checksum: &storage.Checksum{Algorithm: tt.algo}})
			if err != nil {
				t.Fatal(err)
			}
			want := storage.Checksum{Algorithm: tt.algo, Type: storage.ChecksumTypeFullObject, Value: tt.want}
			if info.Checksum == nil || *info.Checksum != want {
				t.Fatalf("PutObject checksum %+v, want %+v", info.Checksum, want)
			}
			head, err := s.HeadObject(ctx, "bkt", "k")
			if err != nil || head.Checksum == nil || *head.Checksum != want {
				t.Fatalf("HeadObject checksum %+v (%v), want %+v", head.Checksum, err, want)
			}
			// A copy keeps the algorithm, computed over its own bytes.
			cp, err := s.CopyObject(ctx, "bkt", "k", "bkt", "copy", nil)
			if err != nil || cp.Checksum == nil || *cp.Checksum != want {
				t.Fatalf("CopyObject checksum %+v (%v), want %+v", cp.Checksum, err, want)
			}
		})
	}
	// A value given with the PUT must be the bytes' value; nothing is
	// stored otherwise.
	_, err := s.PutObject(ctx, "bkt", "bad", strings.NewReader(body), storage.PutOptions{Size: 1024,
		Checksum: &storage.Checksum{Algorithm: storage.ChecksumSHA256, Value: crc64NVMEOf1KiBA}})
	if !errors.Is(err, storage.ErrChecksumMismatch) {
		t.Fatalf("PutObject with a wrong checksum: %v", err)
	}
	if _, err := s.HeadObject(ctx, "bkt", "bad"); !errors.Is(err, storage.ErrObjectNotFound) {
		t.Fatalf("a refused PUT stored the object: %v", err)
	}
	// Without a checksum asked for, none is kept.
	if info := putString(t, s, "bkt", "plain", "x"); info.Checksum != nil {
		t.Fatalf("unasked checksum %+v", info.Checksum)
	}
}

// uploadThree uploads 5 MiB parts of 'A', 'B' and 'C' to a new upload with
// the checksum cs (nil: none).
func uploadThree(t *testing.T, s *Store, key string, cs *storage.Checksum) (string, []storage.PartInfo) {
	t.Helper()
	ctx := context.Background()
	up, err := s.CreateMultipartUpload(ctx, "bkt", key, storage.PutOptions{Checksum: cs})
	if err != nil {
		t.Fatal(err)
	}
	var parts []storage.PartInfo
	for i, c := range "ABC" {
		p, err := s.UploadPart(ctx, "bkt", key, up.UploadID, i+1, bytes.NewReader(bytes.Repeat([]byte{byte(c)}, 5<<20)), 5<<20)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	return up.UploadID, parts
}

func completeParts(parts []storage.PartInfo) []storage.CompletePart {
	out := make([]storage.CompletePart, len(parts))
	for i, p := range parts {
		out[i] = storage.CompletePart{PartNumber: p.PartNumber, ETag: p.ETag}
	}
	return out
}

func TestMultipartChecksums(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "bkt")
	tests := []struct {
		algo, typ string
		parts     [3]string // "" when not checked
		want      string
	}{
		{storage.ChecksumSHA256, storage.ChecksumTypeComposite, threeParts.sha256, threeParts.sha256Composite},
		{storage.ChecksumSHA1, "", [3]string{}, threeParts.sha1Composite}, // SHA1's default type is COMPOSITE
		{storage.ChecksumCRC32, storage.ChecksumTypeFullObject, threeParts.crc32, threeParts.crc32Full},
		{storage.ChecksumCRC32C, storage.ChecksumTypeFullObject, [3]string{}, threeParts.crc32cFull},
		{storage.ChecksumCRC64NVME, "", threeParts.crc64nvme, threeParts.crc64Full}, // FULL_OBJECT by default
	}
	for _, tt := range tests {
		t.Run(tt.algo, func(t *testing.T) {
			key := "mp-" + tt.algo
			id, parts := uploadThree(t, s, key, &storage.Checksum{Algorithm: tt.algo, Type: tt.typ})
			wantType := tt.typ
			if wantType == "" {
				wantType = storage.DefaultChecksumType(tt.algo)
			}
			for i, p := range parts {
				if p.Checksum == nil || p.Checksum.Algorithm != tt.algo || (tt.parts[i] != "" && p.Checksum.Value != tt.parts[i]) {
					t.Fatalf("part %d checksum %+v, want %s %s", i+1, p.Checksum, tt.algo, tt.parts[i])
				}
			}
			listed, _, err := s.ListParts(ctx, "bkt", key, id, 0, 0)
			if err != nil || len(listed) != 3 || listed[1].Checksum == nil || listed[1].Checksum.Value != parts[1].Checksum.Value {
				t.Fatalf("ListParts %+v, %v", listed, err)
			}
			cps := completeParts(parts)
			// The client's own part checksums are checked; a wrong one is
			// InvalidPart, a wrong expected object checksum BadDigest.
			bad := append([]storage.CompletePart(nil), cps...)
			bad[0].Checksum = parts[1].Checksum.Value
			if _, err := s.CompleteMultipartUploadWith(ctx, "bkt", key, id, bad, storage.CompleteOptions{}); !errors.Is(err, storage.ErrInvalidPart) {
				t.Fatalf("complete with a wrong part checksum: %v", err)
			}
			if _, err := s.CompleteMultipartUploadWith(ctx, "bkt", key, id, cps, storage.CompleteOptions{Checksum: &storage.Checksum{Algorithm: tt.algo, Value: "AAAAAA=="}}); !errors.Is(err, storage.ErrChecksumMismatch) {
				t.Fatalf("complete with a wrong object checksum: %v", err)
			}
			for i := range cps {
				cps[i].Checksum = parts[i].Checksum.Value
			}
			info, err := s.CompleteMultipartUploadWith(ctx, "bkt", key, id, cps, storage.CompleteOptions{Checksum: &storage.Checksum{Algorithm: tt.algo, Value: tt.want}})
			if err != nil {
				t.Fatal(err)
			}
			want := storage.Checksum{Algorithm: tt.algo, Type: wantType, Value: tt.want}
			if info.Checksum == nil || *info.Checksum != want || info.PartsCount != 3 {
				t.Fatalf("complete: checksum %+v, %d parts; want %+v, 3", info.Checksum, info.PartsCount, want)
			}
			// Part boundaries and part checksums are kept.
			oi, ops, err := s.ObjectParts(ctx, "bkt", key)
			if err != nil || oi.ETag != info.ETag || len(ops) != 3 {
				t.Fatalf("ObjectParts: %+v %+v %v", oi, ops, err)
			}
			for i, p := range ops {
				if p.PartNumber != i+1 || p.Offset != int64(i)*5<<20 || p.Size != 5<<20 || p.Checksum != parts[i].Checksum.Value {
					t.Fatalf("part %d: %+v", i+1, p)
				}
			}
			// A repeated complete answers the same object and checksum.
			again, err := s.CompleteMultipartUploadWith(ctx, "bkt", key, id, cps, storage.CompleteOptions{})
			if err != nil || again.ETag != info.ETag || again.Checksum == nil || *again.Checksum != want {
				t.Fatalf("repeated complete: %+v, %v", again, err)
			}
		})
	}
}

func TestMultipartWithoutChecksumKeepsBoundaries(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "bkt")
	up, err := s.CreateMultipartUpload(ctx, "bkt", "k", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var parts []storage.PartInfo
	for i, body := range []string{"first-part", "2nd-part", "third"} {
		p, err := s.UploadPart(ctx, "bkt", "k", up.UploadID, i+1, strings.NewReader(body), int64(len(body)))
		if err != nil {
			t.Fatal(err)
		}
		if p.Checksum != nil {
			t.Fatalf("part of an upload without a checksum has one: %+v", p.Checksum)
		}
		parts = append(parts, p)
	}
	// The client may list a part checksum even when the upload has none;
	// there is nothing to compare it with.
	cps := completeParts(parts)
	cps[0].Checksum = "AAAAAA=="
	info, err := s.CompleteMultipartUpload(ctx, "bkt", "k", up.UploadID, cps)
	if err != nil {
		t.Fatal(err)
	}
	if info.Checksum != nil || info.PartsCount != 3 {
		t.Fatalf("info %+v", info)
	}
	_, ops, err := s.ObjectParts(ctx, "bkt", "k")
	want := []storage.ObjectPart{{PartNumber: 1, Offset: 0, Size: 10}, {PartNumber: 2, Offset: 10, Size: 8}, {PartNumber: 3, Offset: 18, Size: 5}}
	if err != nil || len(ops) != 3 || ops[0] != want[0] || ops[1] != want[1] || ops[2] != want[2] {
		t.Fatalf("ObjectParts %+v, %v; want %+v", ops, err, want)
	}
	// A listing still reports the count without decoding the boundaries.
	res, err := s.ListObjects(ctx, "bkt", storage.ListOptions{})
	if err != nil || len(res.Objects) != 1 || res.Objects[0].PartsCount != 3 {
		t.Fatalf("listing %+v, %v", res, err)
	}
	// An ordinary object has no parts.
	putString(t, s, "bkt", "single", "x")
	if oi, ops, err := s.ObjectParts(ctx, "bkt", "single"); err != nil || ops != nil || oi.PartsCount != 0 {
		t.Fatalf("single-part object: %+v %+v %v", oi, ops, err)
	}
	if _, _, err := s.ObjectParts(ctx, "bkt", "missing"); !errors.Is(err, storage.ErrObjectNotFound) {
		t.Fatalf("missing object: %v", err)
	}
}

// TestCompleteRepeatedPartNumber: a part sent again while a later upload of
// it was in flight shows up twice in the client's list; the last entry is
// the part (ceph/s3-tests test_multipart_resend_first_finishes_last).
func TestCompleteRepeatedPartNumber(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "bkt")
	up, err := s.CreateMultipartUpload(ctx, "bkt", "k", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.UploadPart(ctx, "bkt", "k", up.UploadID, 1, strings.NewReader("BBBB"), 4)
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.UploadPart(ctx, "bkt", "k", up.UploadID, 1, strings.NewReader("AAAA"), 4)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.CompleteMultipartUpload(ctx, "bkt", "k", up.UploadID, []storage.CompletePart{cpart(1, first.ETag), cpart(1, last.ETag)})
	if err != nil {
		t.Fatal(err)
	}
	if _, body := getString(t, s, "bkt", "k", nil); body != "AAAA" || info.PartsCount != 1 {
		t.Fatalf("body %q, %d parts", body, info.PartsCount)
	}
}

func TestConditionalWrites(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "bkt")
	put := func(o storage.PutOptions) error {
		o.Size = 1
		_, err := s.PutObject(ctx, "bkt", "k", strings.NewReader("x"), o)
		return err
	}
	complete := func(o storage.CompleteOptions) error {
		up, err := s.CreateMultipartUpload(ctx, "bkt", "k", storage.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.UploadPart(ctx, "bkt", "k", up.UploadID, 1, strings.NewReader("y"), 1)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.CompleteMultipartUploadWith(ctx, "bkt", "k", up.UploadID, []storage.CompletePart{cpart(1, p.ETag)}, o)
		return err
	}
	// Absent key: If-Match fails with NoSuchKey, If-None-Match passes.
	for name, err := range map[string]error{
		"put If-Match *":        put(storage.PutOptions{IfMatch: "*"}),
		"put If-Match etag":     put(storage.PutOptions{IfMatch: `"abc"`}),
		"complete If-Match *":   complete(storage.CompleteOptions{IfMatch: "*"}),
		"complete If-Match bad": complete(storage.CompleteOptions{IfMatch: "abc"}),
	} {
		if !errors.Is(err, storage.ErrObjectNotFound) {
			t.Errorf("%s on an absent key: %v, want not found", name, err)
		}
	}
	if err := put(storage.PutOptions{IfNoneMatchETag: "abc"}); err != nil {
		t.Fatalf("If-None-Match etag on an absent key: %v", err)
	}
	cur, _ := s.HeadObject(ctx, "bkt", "k")
	etag := `"` + cur.ETag + `"`
	for _, tt := range []struct {
		name string
		err  error
		want error
	}{
		{"put If-None-Match *", put(storage.PutOptions{IfNoneMatch: true}), storage.ErrPreconditionFailed},
		{"put If-None-Match current", put(storage.PutOptions{IfNoneMatchETag: etag}), storage.ErrPreconditionFailed},
		{"put If-Match other", put(storage.PutOptions{IfMatch: "abc"}), storage.ErrPreconditionFailed},
		{"complete If-None-Match *", complete(storage.CompleteOptions{IfNoneMatch: "*"}), storage.ErrPreconditionFailed},
		{"complete If-None-Match current", complete(storage.CompleteOptions{IfNoneMatch: etag}), storage.ErrPreconditionFailed},
		{"complete If-Match other", complete(storage.CompleteOptions{IfMatch: "abc"}), storage.ErrPreconditionFailed},
		{"put If-None-Match other", put(storage.PutOptions{IfNoneMatchETag: "abc"}), nil},
	} {
		if !errors.Is(tt.err, tt.want) || (tt.want == nil && tt.err != nil) {
			t.Errorf("%s: %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	cur, _ = s.HeadObject(ctx, "bkt", "k")
	if err := complete(storage.CompleteOptions{IfMatch: strings.ToUpper(cur.ETag)}); err != nil {
		t.Fatalf("complete If-Match current: %v", err)
	}
	cur, _ = s.HeadObject(ctx, "bkt", "k")
	if err := put(storage.PutOptions{IfMatch: cur.ETag}); err != nil {
		t.Fatalf("put If-Match current: %v", err)
	}
	if err := put(storage.PutOptions{IfMatch: "*"}); err != nil {
		t.Fatalf("put If-Match * on an existing key: %v", err)
	}
}

// TestRecordsWithoutExtensions: records written before checksums and part
// boundaries existed still decode, and decoders skip sections they do not
// know.
func TestRecordsWithoutExtensions(t *testing.T) {
	old := objectRec{size: 3, mtime: 7, etag: "e", contentType: "t", file: "ab/cd", meta: map[string]string{"k": "v"}}
	v := old.encode()
	got, err := decodeObjectParts(v)
	if err != nil || got.size != 3 || got.etag != "e" || got.meta["k"] != "v" || got.checksum.Algorithm != "" || got.parts != nil {
		t.Fatalf("old record decoded as %+v, %v", got, err)
	}
	future := appendExt(append([]byte(nil), v...), 99, []byte("something new"))
	if got, err := decodeObject(future); err != nil || got.etag != "e" {
		t.Fatalf("record with an unknown section: %+v, %v", got, err)
	}
	if _, err := decodeObject(append(append([]byte(nil), v...), extChecksum, 40)); !errors.Is(err, errCorrupt) {
		t.Fatalf("truncated section: %v", err)
	}
	p := partRec{size: 1, mtime: 2, etag: "e", file: "f"}
	if got, err := decodePart(p.encode()); err != nil || got.checksum != "" || got.file != "f" {
		t.Fatalf("old part record: %+v, %v", got, err)
	}
	u := uploadRec{initiated: 1, contentType: "t", ifNoneMatch: true}
	if got, err := decodeUpload(u.encode()); err != nil || !got.ifNoneMatch || got.checksumAlgo != "" {
		t.Fatalf("old upload record: %+v, %v", got, err)
	}
}

// The checksum and parts survive a restart (they are in the index, not in
// memory).
func TestChecksumSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{MinPartSize: 5})
	mkBucket(t, s, "bkt")
	id, parts := uploadThree(t, s, "k", &storage.Checksum{Algorithm: storage.ChecksumSHA256})
	if _, err := s.CompleteMultipartUpload(context.Background(), "bkt", "k", id, completeParts(parts)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, dir, Options{MinPartSize: 5})
	info, ops, err := s2.ObjectParts(context.Background(), "bkt", "k")
	if err != nil || info.Checksum == nil || info.Checksum.Value != threeParts.sha256Composite || len(ops) != 3 || ops[2].Checksum != threeParts.sha256[2] {
		t.Fatalf("after reopen: %+v %+v %v", info, ops, err)
	}
}
