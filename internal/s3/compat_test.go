package s3

// Behaviours the ceph/s3-tests suite measures (issue 18), each checked here
// through aws-sdk-go-v2 against the real SigV4 verifier and fs store, so CI
// guards what the suite found.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/s3fed/s3fed/internal/policy"
)

const aliceKey = "AKIAALICE0000000"

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func b64sha256(b []byte) string {
	s := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

func b64crc32(b []byte) string {
	v := crc32.ChecksumIEEE(b)
	return base64.StdEncoding.EncodeToString([]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func mkBucketSDK(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
}

func TestSDKPutObjectChecksums(t *testing.T) {
	e := newLiveEnv(t, false, "")
	c := e.sdk(t, aliceKey, "")
	ctx := context.Background()
	mkBucketSDK(t, c, "sums")
	body := bytes.Repeat([]byte("A"), 1024)
	for _, tc := range []struct {
		algo types.ChecksumAlgorithm
		want string
		get  func(*s3.HeadObjectOutput) *string
	}{
		// Reference values from ceph/s3-tests for 1024 'A's.
		{types.ChecksumAlgorithmSha256, "arcu6553sHVAiX4MjW0j7I7vD4w6R+Gz9Ok0Q9lTa+0=", func(o *s3.HeadObjectOutput) *string { return o.ChecksumSHA256 }},
		{types.ChecksumAlgorithmCrc64nvme, "Qeh8oXvGiSo=", func(o *s3.HeadObjectOutput) *string { return o.ChecksumCRC64NVME }},
		{types.ChecksumAlgorithmCrc32, b64crc32(body), func(o *s3.HeadObjectOutput) *string { return o.ChecksumCRC32 }},
	} {
		t.Run(string(tc.algo), func(t *testing.T) {
			key := "obj-" + string(tc.algo)
			out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String(key), Body: bytes.NewReader(body), ChecksumAlgorithm: tc.algo})
			if err != nil {
				t.Fatal(err)
			}
			if out.ChecksumType != types.ChecksumTypeFullObject {
				t.Errorf("PutObject ChecksumType %q", out.ChecksumType)
			}
			head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sums"), Key: aws.String(key)})
			if err != nil {
				t.Fatal(err)
			}
			if tc.get(head) != nil {
				t.Errorf("checksum returned without checksum mode: %q", aws.ToString(tc.get(head)))
			}
			head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sums"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(tc.get(head)); got != tc.want || head.ChecksumType != types.ChecksumTypeFullObject {
				t.Errorf("HeadObject checksum %q %q, want %q FULL_OBJECT", got, head.ChecksumType, tc.want)
			}
			// The SDK validates a GET against the returned checksum.
			get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sums"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(get.Body)
			get.Body.Close()
			if err != nil || !bytes.Equal(b, body) {
				t.Fatalf("GET: %d bytes, %v", len(b), err)
			}
		})
	}
	// A wrong checksum is BadDigest and stores nothing.
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String("bad"), Body: bytes.NewReader(body),
		ChecksumSHA256: aws.String(b64sha256([]byte("other")))})
	if apiCode(err) != "BadDigest" {
		t.Fatalf("wrong checksum: %v", err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sums"), Key: aws.String("bad")}); httpStatus(err) != 404 {
		t.Fatalf("refused PUT stored the object: %v", err)
	}
}

// threePartUpload uploads three parts (5 MiB of 'A', 'B', and 1 MiB of 'C')
// and returns the upload ID, the parts as the client lists them, and the
// bytes.
func threePartUpload(t *testing.T, c *s3.Client, bucket, key string, algo types.ChecksumAlgorithm, typ types.ChecksumType) (string, []types.CompletedPart, []byte) {
	t.Helper()
	ctx := context.Background()
	in := &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumAlgorithm: algo, ChecksumType: typ}
	up, err := c.CreateMultipartUpload(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if algo != "" && (up.ChecksumAlgorithm != algo || (typ != "" && up.ChecksumType != typ)) {
		t.Errorf("CreateMultipartUpload answered %q %q", up.ChecksumAlgorithm, up.ChecksumType)
	}
	var all []byte
	var parts []types.CompletedPart
	for i, p := range [][]byte{bytes.Repeat([]byte("A"), 5<<20), bytes.Repeat([]byte("B"), 5<<20), bytes.Repeat([]byte("C"), 1<<20)} {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p), ChecksumAlgorithm: algo})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag,
			ChecksumSHA256: out.ChecksumSHA256, ChecksumCRC32: out.ChecksumCRC32})
		all = append(all, p...)
	}
	return aws.ToString(up.UploadId), parts, all
}

func TestSDKMultipartChecksums(t *testing.T) {
	e := newLiveEnv(t, false, "")
	c := e.sdk(t, aliceKey, "")
	ctx := context.Background()
	mkBucketSDK(t, c, "mpsums")

	t.Run("SHA256 composite", func(t *testing.T) {
		id, parts, data := threePartUpload(t, c, "mpsums", "comp", types.ChecksumAlgorithmSha256, types.ChecksumTypeComposite)
		for i, p := range parts {
			if want := b64sha256(data[i*(5<<20) : min((i+1)*(5<<20), len(data))]); aws.ToString(p.ChecksumSHA256) != want {
				t.Fatalf("part %d checksum %q, want %q", i+1, aws.ToString(p.ChecksumSHA256), want)
			}
		}
		// The composite: SHA-256 of the parts' digests, "-3".
		h := sha256.New()
		for _, p := range parts {
			d, _ := base64.StdEncoding.DecodeString(aws.ToString(p.ChecksumSHA256))
			h.Write(d)
		}
		want := base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-3"
		// ListParts shows the part checksums.
		lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpsums"), Key: aws.String("comp"), UploadId: aws.String(id)})
		if err != nil || len(lp.Parts) != 3 || aws.ToString(lp.Parts[2].ChecksumSHA256) != aws.ToString(parts[2].ChecksumSHA256) || lp.ChecksumAlgorithm != types.ChecksumAlgorithmSha256 {
			t.Fatalf("ListParts %+v, %v", lp, err)
		}
		// A wrong expected object checksum is BadDigest; nothing is made.
		_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpsums"), Key: aws.String("comp"),
			UploadId: aws.String(id), MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}, ChecksumSHA256: aws.String(b64sha256(nil) + "-3")})
		if apiCode(err) != "BadDigest" {
			t.Fatalf("complete with a wrong checksum: %v", err)
		}
		out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpsums"), Key: aws.String("comp"),
			UploadId: aws.String(id), MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}, ChecksumSHA256: aws.String(want)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.ChecksumSHA256) != want || out.ChecksumType != types.ChecksumTypeComposite {
			t.Fatalf("complete: %q %q, want %q COMPOSITE", aws.ToString(out.ChecksumSHA256), out.ChecksumType, want)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mpsums"), Key: aws.String("comp"), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil || aws.ToString(head.ChecksumSHA256) != want {
			t.Fatalf("HeadObject: %q %v", aws.ToString(head.ChecksumSHA256), err)
		}
		// Each part reads back with its own checksum, which the SDK checks.
		for i := range parts {
			g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mpsums"), Key: aws.String("comp"), PartNumber: aws.Int32(int32(i + 1)), ChecksumMode: types.ChecksumModeEnabled})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(g.Body)
			g.Body.Close()
			if err != nil || aws.ToString(g.ChecksumSHA256) != aws.ToString(parts[i].ChecksumSHA256) || !bytes.Equal(b, data[i*(5<<20):i*(5<<20)+len(b)]) {
				t.Fatalf("part %d: %q, %d bytes, %v", i+1, aws.ToString(g.ChecksumSHA256), len(b), err)
			}
		}
		// GetObjectAttributes: the checksum and each part's.
		attrs, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("mpsums"), Key: aws.String("comp"),
			ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesChecksum, types.ObjectAttributesObjectParts, types.ObjectAttributesObjectSize}})
		if err != nil {
			t.Fatal(err)
		}
		if attrs.Checksum == nil || aws.ToString(attrs.Checksum.ChecksumSHA256) != want || attrs.ObjectParts == nil ||
			aws.ToInt32(attrs.ObjectParts.TotalPartsCount) != 3 || len(attrs.ObjectParts.Parts) != 3 ||
			aws.ToString(attrs.ObjectParts.Parts[1].ChecksumSHA256) != aws.ToString(parts[1].ChecksumSHA256) || aws.ToInt64(attrs.ObjectSize) != int64(len(data)) {
			t.Fatalf("GetObjectAttributes %+v", attrs)
		}
	})

	t.Run("CRC32 full object", func(t *testing.T) {
		id, parts, data := threePartUpload(t, c, "mpsums", "full", types.ChecksumAlgorithmCrc32, types.ChecksumTypeFullObject)
		want := b64crc32(data)
		out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpsums"), Key: aws.String("full"),
			UploadId: aws.String(id), MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}, ChecksumCRC32: aws.String(want), ChecksumType: types.ChecksumTypeFullObject})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.ChecksumCRC32) != want || out.ChecksumType != types.ChecksumTypeFullObject {
			t.Fatalf("complete: %q %q, want %q FULL_OBJECT", aws.ToString(out.ChecksumCRC32), out.ChecksumType, want)
		}
		// A whole-object GET is validated by the SDK against it.
		g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mpsums"), Key: aws.String("full"), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(g.Body)
		g.Body.Close()
		if err != nil || !bytes.Equal(b, data) || aws.ToString(g.ChecksumCRC32) != want {
			t.Fatalf("GET: %d bytes, %q, %v", len(b), aws.ToString(g.ChecksumCRC32), err)
		}
	})

	t.Run("algorithm and type that do not go together", func(t *testing.T) {
		_, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpsums"), Key: aws.String("x"),
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumType: types.ChecksumTypeFullObject})
		if apiCode(err) != "InvalidRequest" {
			t.Fatalf("SHA256 FULL_OBJECT: %v", err)
		}
	})
}

// TestSDKCompleteAgain: S3 answers a repeated CompleteMultipartUpload with
// the object it made, so an SDK retry after a lost answer is safe.
func TestSDKCompleteAgain(t *testing.T) {
	e := newLiveEnv(t, false, "")
	c := e.sdk(t, aliceKey, "")
	ctx := context.Background()
	mkBucketSDK(t, c, "again")
	id, parts, _ := threePartUpload(t, c, "again", "k", types.ChecksumAlgorithmSha256, "")
	in := &s3.CompleteMultipartUploadInput{Bucket: aws.String("again"), Key: aws.String("k"), UploadId: aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}
	first, err := c.CompleteMultipartUpload(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.CompleteMultipartUpload(ctx, in)
	if err != nil {
		t.Fatalf("second complete: %v", err)
	}
	if aws.ToString(second.ETag) != aws.ToString(first.ETag) || aws.ToString(second.ChecksumSHA256) != aws.ToString(first.ChecksumSHA256) {
		t.Fatalf("second complete %q %q, first %q %q", aws.ToString(second.ETag), aws.ToString(second.ChecksumSHA256), aws.ToString(first.ETag), aws.ToString(first.ChecksumSHA256))
	}
	// Once the key holds something else, the upload is gone for good.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("again"), Key: aws.String("k"), Body: strings.NewReader("new")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteMultipartUpload(ctx, in); apiCode(err) != "NoSuchUpload" {
		t.Fatalf("complete after overwrite: %v", err)
	}
}

// TestSDKPartSentAgain: a part number listed twice (the part was sent
// again and the later send finished first) counts once, with its last
// entry, as S3 does.
func TestSDKPartSentAgain(t *testing.T) {
	e := newLiveEnv(t, false, "")
	c := e.sdk(t, aliceKey, "")
	ctx := context.Background()
	mkBucketSDK(t, c, "resend")
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("resend"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	send := func(body string) *string {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("resend"), Key: aws.String("k"), UploadId: up.UploadId,
			PartNumber: aws.Int32(1), Body: strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		return out.ETag
	}
	b := send("BBBBBBBB")
	a := send("AAAAAAAA")
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("resend"), Key: aws.String("k"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: b}, {PartNumber: aws.Int32(1), ETag: a}}}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("resend"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(g.Body)
	g.Body.Close()
	if string(body) != "AAAAAAAA" {
		t.Fatalf("body %q", body)
	}
}

func TestSDKGetByPartNumber(t *testing.T) {
	e := newLiveEnv(t, false, "")
	c := e.sdk(t, aliceKey, "")
	ctx := context.Background()
	mkBucketSDK(t, c, "parts")
	// A part read before the upload completes: no such key.
	id, parts, data := threePartUpload(t, c, "parts", "mp", "", "")
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("parts"), Key: aws.String("mp"), PartNumber: aws.Int32(1)}); apiCode(err) != "NoSuchKey" {
		t.Fatalf("part before complete: %v", err)
	}
	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("parts"), Key: aws.String("mp"), UploadId: aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int64{5 << 20, 5 << 20, 1 << 20}
	off := int64(0)
	for i, size := range sizes {
		n := aws.Int32(int32(i + 1))
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("parts"), Key: aws.String("mp"), PartNumber: n})
		if err != nil || aws.ToInt32(head.PartsCount) != 3 || aws.ToString(head.ETag) != aws.ToString(done.ETag) || aws.ToInt64(head.ContentLength) != size {
			t.Fatalf("HEAD part %d: %+v %v", i+1, head, err)
		}
		g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("parts"), Key: aws.String("mp"), PartNumber: n})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(g.Body)
		g.Body.Close()
		if !bytes.Equal(b, data[off:off+size]) || aws.ToInt32(g.PartsCount) != 3 || aws.ToString(g.ContentRange) == "" {
			t.Fatalf("part %d: %d bytes, parts count %d, range %q", i+1, len(b), aws.ToInt32(g.PartsCount), aws.ToString(g.ContentRange))
		}
		off += size
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("parts"), Key: aws.String("mp"), PartNumber: aws.Int32(4)})
	if apiCode(err) != "InvalidPartNumber" || httpStatus(err) != 416 {
		t.Fatalf("part 4 of 3: %v", err)
	}
	// An object not made by multipart upload is its own part 1.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("parts"), Key: aws.String("single"), Body: strings.NewReader("body")}); err != nil {
		t.Fatal(err)
	}
	g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("parts"), Key: aws.String("single"), PartNumber: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(g.Body)
	g.Body.Close()
	if string(b) != "body" {
		t.Fatalf("single part: %q", b)
	}
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("parts"), Key: aws.String("single"), PartNumber: aws.Int32(2)}); apiCode(err) != "InvalidPartNumber" {
		t.Fatalf("part 2 of a single-part object: %v", err)
	}
}

func TestSDKGetObjectAttributes(t *testing.T) {
	e := newLiveEnv(t, false, "")
	c := e.sdk(t, aliceKey, "")
	ctx := context.Background()
	mkBucketSDK(t, c, "attrs")
	all := []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesChecksum, types.ObjectAttributesObjectParts,
		types.ObjectAttributesStorageClass, types.ObjectAttributesObjectSize}
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("attrs"), Key: aws.String("one"), Body: strings.NewReader("foo"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("one"), ObjectAttributes: all})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(a.ETag) != strings.Trim(aws.ToString(put.ETag), `"`) || aws.ToInt64(a.ObjectSize) != 3 || a.StorageClass != types.StorageClassStandard ||
		a.ObjectParts != nil || a.Checksum == nil || aws.ToString(a.Checksum.ChecksumSHA256) != b64sha256([]byte("foo")) || a.LastModified == nil {
		t.Fatalf("single-part object attributes %+v", a)
	}
	// Parts page by max-parts and part-number-marker.
	id, parts, _ := threePartUpload(t, c, "attrs", "mp", "", "")
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("attrs"), Key: aws.String("mp"), UploadId: aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	a, err = c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("mp"), ObjectAttributes: all,
		MaxParts: aws.Int32(1), PartNumberMarker: aws.String("1")})
	if err != nil {
		t.Fatal(err)
	}
	op := a.ObjectParts
	if op == nil || aws.ToInt32(op.TotalPartsCount) != 3 || !aws.ToBool(op.IsTruncated) || len(op.Parts) != 1 || aws.ToInt32(op.Parts[0].PartNumber) != 2 ||
		aws.ToInt64(op.Parts[0].Size) != 5<<20 || aws.ToString(op.NextPartNumberMarker) != "2" || a.Checksum != nil {
		t.Fatalf("multipart attributes %+v", op)
	}
	if _, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("missing"), ObjectAttributes: all}); apiCode(err) != "NoSuchKey" {
		t.Fatalf("missing object: %v", err)
	}
}

func TestSDKConditionalWrites(t *testing.T) {
	e := newLiveEnv(t, false, "")
	c := e.sdk(t, aliceKey, "")
	ctx := context.Background()
	mkBucketSDK(t, c, "cond")
	put := func(ifMatch, ifNoneMatch string) (*s3.PutObjectOutput, error) {
		in := &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("k"), Body: strings.NewReader("x")}
		if ifMatch != "" {
			in.IfMatch = aws.String(ifMatch)
		}
		if ifNoneMatch != "" {
			in.IfNoneMatch = aws.String(ifNoneMatch)
		}
		return c.PutObject(ctx, in)
	}
	wantErr := func(what string, err error, status int, code string) {
		t.Helper()
		if httpStatus(err) != status || apiCode(err) != code {
			t.Errorf("%s: %v, want %d %s", what, err, status, code)
		}
	}
	first, err := put("", "*")
	if err != nil {
		t.Fatal(err)
	}
	etag := aws.ToString(first.ETag)
	_, err = put("", "*")
	wantErr("If-None-Match * on an existing key", err, 412, "PreconditionFailed")
	_, err = put("", etag)
	wantErr("If-None-Match current ETag", err, 412, "PreconditionFailed")
	if _, err := put("", `"badetag"`); err != nil {
		t.Errorf("If-None-Match another ETag: %v", err)
	}
	if _, err := put(etag, ""); err != nil {
		t.Errorf("If-Match current ETag: %v", err)
	}
	_, err = put(`"badetag"`, "")
	wantErr("If-Match another ETag", err, 412, "PreconditionFailed")
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("cond"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	_, err = put("*", "")
	wantErr("If-Match * on a missing key", err, 404, "NoSuchKey")
	_, err = put(etag, "")
	wantErr("If-Match on a missing key", err, 404, "NoSuchKey")

	// The same conditions on CompleteMultipartUpload.
	complete := func(ifMatch, ifNoneMatch string) error {
		up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("cond"), Key: aws.String("mp")})
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("cond"), Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("abc")})
		if err != nil {
			t.Fatal(err)
		}
		in := &s3.CompleteMultipartUploadInput{Bucket: aws.String("cond"), Key: aws.String("mp"), UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: p.ETag}}}}
		if ifMatch != "" {
			in.IfMatch = aws.String(ifMatch)
		}
		if ifNoneMatch != "" {
			in.IfNoneMatch = aws.String(ifNoneMatch)
		}
		_, err = c.CompleteMultipartUpload(ctx, in)
		return err
	}
	wantErr("complete If-Match * on a missing key", complete("*", ""), 404, "NoSuchKey")
	if err := complete("", "*"); err != nil {
		t.Fatalf("complete If-None-Match * on a missing key: %v", err)
	}
	wantErr("complete If-None-Match * on an existing key", complete("", "*"), 412, "PreconditionFailed")
	wantErr("complete If-Match another ETag", complete(`"badetag"`, ""), 412, "PreconditionFailed")
	if err := complete("*", ""); err != nil {
		t.Errorf("complete If-Match *: %v", err)
	}
}

func TestSDKCannedACLs(t *testing.T) {
	e := newLiveEnv(t, false, "")
	c := e.sdk(t, aliceKey, "")
	ctx := context.Background()
	// Private ACLs mean what every s3fed resource is: accepted.
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("acl"), ACL: types.BucketCannedACLPrivate}); err != nil {
		t.Fatal(err)
	}
	for _, acl := range []types.ObjectCannedACL{types.ObjectCannedACLPrivate, types.ObjectCannedACLBucketOwnerFullControl} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("acl"), Key: aws.String("k"), Body: strings.NewReader("x"), ACL: acl}); err != nil {
			t.Errorf("PutObject ACL %s: %v", acl, err)
		}
	}
	if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("acl"), ACL: types.BucketCannedACLPrivate}); err != nil {
		t.Errorf("PutBucketAcl private: %v", err)
	}
	if _, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("acl"), Key: aws.String("k"), ACL: types.ObjectCannedACLPrivate}); err != nil {
		t.Errorf("PutObjectAcl private: %v", err)
	}
	// Public ones are refused as S3 refuses them on a bucket without ACLs,
	// and nothing is made.
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("acl-public"), ACL: types.BucketCannedACLPublicRead})
	if apiCode(err) != "InvalidBucketAclWithObjectOwnership" || httpStatus(err) != 400 {
		t.Errorf("CreateBucket public-read: %v", err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("acl-public")}); httpStatus(err) != 404 {
		t.Errorf("refused CreateBucket made the bucket: %v", err)
	}
	for _, acl := range []types.ObjectCannedACL{types.ObjectCannedACLPublicRead, types.ObjectCannedACLPublicReadWrite, types.ObjectCannedACLAuthenticatedRead} {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("acl"), Key: aws.String("pub"), Body: strings.NewReader("x"), ACL: acl})
		if apiCode(err) != "AccessControlListNotSupported" {
			t.Errorf("PutObject ACL %s: %v", acl, err)
		}
		_, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("acl"), Key: aws.String("pub"), ACL: acl})
		if apiCode(err) != "AccessControlListNotSupported" {
			t.Errorf("CreateMultipartUpload ACL %s: %v", acl, err)
		}
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("acl"), Key: aws.String("pub"), CopySource: aws.String("acl/k"), ACL: acl})
		if apiCode(err) != "AccessControlListNotSupported" {
			t.Errorf("CopyObject ACL %s: %v", acl, err)
		}
		_, err = c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("acl"), Key: aws.String("k"), ACL: acl})
		if apiCode(err) != "AccessControlListNotSupported" {
			t.Errorf("PutObjectAcl %s: %v", acl, err)
		}
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("acl"), Key: aws.String("pub")}); httpStatus(err) != 404 {
		t.Errorf("a refused write stored the object: %v", err)
	}
	_, err = c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("acl"), ACL: types.BucketCannedACLPublicReadWrite})
	if apiCode(err) != "AccessControlListNotSupported" {
		t.Errorf("PutBucketAcl public-read-write: %v", err)
	}
	_, err = c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("acl"), GrantRead: aws.String(`uri="http://acs.amazonaws.com/groups/global/AllUsers"`)})
	if apiCode(err) != "AccessControlListNotSupported" {
		t.Errorf("PutBucketAcl grant: %v", err)
	}
	// An ACL document that grants the owner full control and nobody
	// else anything is what the bucket has.
	acl, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("acl")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("acl"), AccessControlPolicy: &types.AccessControlPolicy{Owner: acl.Owner, Grants: acl.Grants}}); err != nil {
		t.Errorf("PutBucketAcl with the bucket's own ACL: %v", err)
	}
	other := append(acl.Grants, types.Grant{Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String("http://acs.amazonaws.com/groups/global/AllUsers")}, Permission: types.PermissionRead})
	if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("acl"), AccessControlPolicy: &types.AccessControlPolicy{Owner: acl.Owner, Grants: other}}); apiCode(err) != "AccessControlListNotSupported" {
		t.Errorf("PutBucketAcl granting AllUsers: %v", err)
	}
	// ACL-based object ownership does not exist here.
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("acl-writer"), ObjectOwnership: types.ObjectOwnershipObjectWriter})
	if httpStatus(err) != 501 {
		t.Errorf("CreateBucket ObjectWriter: %v", err)
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("acl-enforced"), ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}); err != nil {
		t.Errorf("CreateBucket BucketOwnerEnforced: %v", err)
	}
}

func TestSDKPublicAccessBlock(t *testing.T) {
	e := newLiveEnv(t, false, "")
	e.srv.isPublic = func(bucket string, doc []byte) bool {
		bp, err := policy.ParseBucketPolicy(doc, bucket)
		return err == nil && bp.IsPublic()
	}
	c := e.sdk(t, aliceKey, "")
	ctx := context.Background()
	mkBucketSDK(t, c, "pab")
	// Every new bucket has all four settings on.
	got, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String("pab")})
	if err != nil {
		t.Fatal(err)
	}
	cfg := got.PublicAccessBlockConfiguration
	if !aws.ToBool(cfg.BlockPublicAcls) || !aws.ToBool(cfg.IgnorePublicAcls) || !aws.ToBool(cfg.BlockPublicPolicy) || !aws.ToBool(cfg.RestrictPublicBuckets) {
		t.Fatalf("new bucket %+v", cfg)
	}
	public := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pab/*"}]}`
	_, err = c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("pab"), Policy: aws.String(public)})
	if apiCode(err) != "AccessDenied" || httpStatus(err) != 403 {
		t.Fatalf("public policy while blocked: %v", err)
	}
	// A policy naming an org is not public.
	orgPol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::org2:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pab/*"}]}`
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("pab"), Policy: aws.String(orgPol)}); err != nil {
		t.Fatalf("org policy: %v", err)
	}
	st, err := c.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: aws.String("pab")})
	if err != nil || aws.ToBool(st.PolicyStatus.IsPublic) {
		t.Fatalf("policy status of an org policy: %+v %v", st, err)
	}
	// Settings are kept as put.
	want := &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(false), BlockPublicPolicy: aws.Bool(false), RestrictPublicBuckets: aws.Bool(true)}
	if _, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String("pab"), PublicAccessBlockConfiguration: want}); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String("pab")})
	if err != nil {
		t.Fatal(err)
	}
	cfg = got.PublicAccessBlockConfiguration
	if !aws.ToBool(cfg.BlockPublicAcls) || aws.ToBool(cfg.IgnorePublicAcls) || aws.ToBool(cfg.BlockPublicPolicy) || !aws.ToBool(cfg.RestrictPublicBuckets) {
		t.Fatalf("after put %+v", cfg)
	}
	// With BlockPublicPolicy off, a public policy is stored and reported.
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("pab"), Policy: aws.String(public)}); err != nil {
		t.Fatalf("public policy, BlockPublicPolicy off: %v", err)
	}
	st, err = c.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: aws.String("pab")})
	if err != nil || !aws.ToBool(st.PolicyStatus.IsPublic) {
		t.Fatalf("policy status of a public policy: %+v %v", st, err)
	}
	if _, err := c.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: aws.String("pab")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String("pab")}); apiCode(err) != "NoSuchPublicAccessBlockConfiguration" || httpStatus(err) != 404 {
		t.Fatalf("after delete: %v", err)
	}
	// Another org sees none of it.
	bobc := e.sdk(t, "AKIABOB000000000", "")
	if _, err := bobc.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String("pab")}); apiCode(err) != "AccessDenied" {
		t.Fatalf("other org: %v", err)
	}
}

func TestSDKListingEncoding(t *testing.T) {
	e := newLiveEnv(t, false, "")
	c := e.sdk(t, aliceKey, "")
	ctx := context.Background()
	mkBucketSDK(t, c, "enc")
	for _, k := range []string{"foo+1/bar", "foo/bar/xyzzy", "quux ab/thud", "asdf+b"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("enc"), Key: aws.String(k), Body: strings.NewReader("")}); err != nil {
			t.Fatal(err)
		}
	}
	// With EncodingType set by the caller the SDK returns the values as sent:
	// S3 escapes a space as %20 and "+" as %2B.
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("enc"), Delimiter: aws.String("/"), EncodingType: types.EncodingTypeUrl})
	if err != nil {
		t.Fatal(err)
	}
	var prefixes []string
	for _, p := range out.CommonPrefixes {
		prefixes = append(prefixes, aws.ToString(p.Prefix))
	}
	if strings.Join(prefixes, ",") != "foo%2B1/,foo/,quux%20ab/" || len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "asdf%2Bb" {
		t.Fatalf("prefixes %v, keys %+v", prefixes, out.Contents)
	}
	// An empty continuation token is echoed.
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("enc"), ContinuationToken: aws.String("")})
	if err != nil || out.ContinuationToken == nil || aws.ToString(out.ContinuationToken) != "" || len(out.Contents) != 4 {
		t.Fatalf("empty continuation token: %v %v", out.ContinuationToken, err)
	}
}

func TestSDKContentEncodingAndOptions(t *testing.T) {
	e := newLiveEnv(t, false, "")
	c := e.sdk(t, aliceKey, "")
	ctx := context.Background()
	mkBucketSDK(t, c, "cebkt")
	for _, tc := range []struct{ sent, want string }{
		{"gzip", "gzip"}, {"deflate, gzip", "deflate, gzip"}, {"deflate,gzip", "deflate, gzip"},
		{"gzip, aws-chunked", "gzip"}, {"aws-chunked, gzip", "gzip"}, {"aws-chunked", ""},
	} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cebkt"), Key: aws.String("k"), Body: strings.NewReader("x"), ContentEncoding: aws.String(tc.sent)}); err != nil {
			t.Fatal(err)
		}
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("cebkt"), Key: aws.String("k")})
		if err != nil || aws.ToString(h.ContentEncoding) != tc.want {
			t.Errorf("Content-Encoding %q: got %q, want %q (%v)", tc.sent, aws.ToString(h.ContentEncoding), tc.want, err)
		}
	}
	// OPTIONS: s3fed has no CORS; not a preflight is a bad request, a
	// preflight is refused as on a bucket without a CORS configuration.
	for _, tc := range []struct {
		origin string
		status int
	}{{"", 400}, {"https://example.com", 403}} {
		req, _ := http.NewRequest(http.MethodOptions, e.ts.URL+"/cebkt/k", nil)
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
			req.Header.Set("Access-Control-Request-Method", "GET")
		}
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("OPTIONS origin %q: %d, want %d", tc.origin, resp.StatusCode, tc.status)
		}
	}
}

// TestCompatBadInput: the operations and headers issue 18 added refuse bad
// input with a 4xx and change nothing.
func TestCompatBadInput(t *testing.T) {
	bothBackends(t, func(t *testing.T, opt func(*Config)) {
		e := newEnv(t, opt)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/k", []byte("data"))
		for _, tc := range []struct {
			method, target string
			body           string
			hdr            []string
			status         int
			code           string
		}{
			{"GET", "/bkt/k?attributes", "", nil, 400, "InvalidRequest"},
			{"GET", "/bkt/k?attributes", "", []string{"X-Amz-Object-Attributes", "ETag,Colour"}, 400, "InvalidArgument"},
			{"GET", "/bkt/k?attributes", "", []string{"X-Amz-Object-Attributes", "ETag", "X-Amz-Max-Parts", "-1"}, 400, "InvalidArgument"},
			{"GET", "/bkt/k?attributes", "", []string{"X-Amz-Object-Attributes", "ETag", "X-Amz-Part-Number-Marker", "x"}, 400, "InvalidArgument"},
			{"GET", "/bkt/missing?attributes", "", []string{"X-Amz-Object-Attributes", "ETag"}, 404, "NoSuchKey"},
			{"PUT", "/bkt?publicAccessBlock", "", nil, 400, "MalformedXML"},
			{"PUT", "/bkt?publicAccessBlock", "<PublicAccessBlockConfiguration><BlockPublicAcls>maybe</BlockPublicAcls></PublicAccessBlockConfiguration>", nil, 400, "MalformedXML"},
			{"PUT", "/bkt?publicAccessBlock", "<Other/>", nil, 400, "MalformedXML"},
			{"PUT", "/bkt?acl", "", nil, 400, "MalformedXML"},
			{"PUT", "/bkt?acl", "<AccessControlPolicy/>", []string{"X-Amz-Acl", "private"}, 400, "InvalidRequest"},
			{"PUT", "/bkt?acl", "not xml", nil, 400, "MalformedXML"},
			{"PUT", "/bkt?acl", "", []string{"X-Amz-Acl", "everyone"}, 400, "InvalidArgument"},
			{"PUT", "/bkt/missing?acl", "", []string{"X-Amz-Acl", "private"}, 404, "NoSuchKey"},
			{"PUT", "/bkt/k2", "x", []string{"X-Amz-Acl", "public-read"}, 400, "AccessControlListNotSupported"},
			{"PUT", "/bkt/k2", "x", []string{"X-Amz-Grant-Read", "id=someone"}, 400, "AccessControlListNotSupported"},
			{"PUT", "/bkt/k2", "x", []string{"X-Amz-Sdk-Checksum-Algorithm", "MD4"}, 400, "InvalidRequest"},
			{"PUT", "/bkt/k2", "x", []string{"X-Amz-Sdk-Checksum-Algorithm", "SHA256", "X-Amz-Checksum-Algorithm", "CRC32"}, 400, "InvalidRequest"},
			{"PUT", "/bkt/k2", "x", []string{"If-Match", "*"}, 404, "NoSuchKey"},
			{"PUT", "/bkt/k", "x", []string{"If-Match", `"0000"`}, 412, "PreconditionFailed"},
			{"POST", "/bkt/k2?uploads", "", []string{"X-Amz-Checksum-Algorithm", "MD5"}, 400, "InvalidRequest"},
			{"POST", "/bkt/k2?uploads", "", []string{"X-Amz-Checksum-Type", "COMPOSITE"}, 400, "InvalidRequest"},
			{"POST", "/bkt/k2?uploads", "", []string{"X-Amz-Checksum-Algorithm", "SHA1", "X-Amz-Checksum-Type", "FULL_OBJECT"}, 400, "InvalidRequest"},
			{"POST", "/bkt/k2?uploads", "", []string{"X-Amz-Checksum-Algorithm", "CRC32", "X-Amz-Checksum-Type", "WHOLE"}, 400, "InvalidRequest"},
			{"PUT", "/bkt2", "", []string{"X-Amz-Acl", "public-read-write"}, 400, "InvalidBucketAclWithObjectOwnership"},
			{"PUT", "/bkt2", "", []string{"X-Amz-Object-Ownership", "Nobody"}, 400, "InvalidArgument"},
			{"PUT", "/bkt/k2", "x", []string{"X-Amz-Copy-Source", "/bkt/k", "X-Amz-Checksum-Algorithm", "MD5"}, 400, "InvalidRequest"},
			{"OPTIONS", "/bkt/k", "", nil, 400, "BadRequest"},
			{"POST", "/bkt", "--b\r\n", []string{"Content-Type", "multipart/form-data; boundary=b"}, 400, "InvalidArgument"},
			{"POST", "/bkt", "--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk", []string{"Content-Type", "multipart/form-data; boundary=b"}, 400, "IncompleteBody"},
			{"POST", "/bkt", "--b\r\nContent-Type: text/plain\r\n\r\nk\r\n--b--\r\n", []string{"Content-Type", "multipart/form-data; boundary=b"}, 400, "MalformedPOSTRequest"},
			{"POST", "/bkt", "", []string{"Content-Type", "multipart/form-data"}, 501, "NotImplemented"},
		} {
			r := e.do(t, "AKALICE", tc.method, tc.target, []byte(tc.body), tc.hdr...)
			if r.code != tc.status || r.errCode() != tc.code {
				t.Errorf("%s %s %v: %d %s, want %d %s", tc.method, tc.target, tc.hdr, r.code, r.body, tc.status, tc.code)
			}
		}
		if r := e.do(t, "AKALICE", "HEAD", "/bkt/k2", nil); r.code != 404 {
			t.Errorf("a refused request stored bkt/k2: %d", r.code)
		}
		if r := e.do(t, "AKALICE", "HEAD", "/bkt2", nil); r.code != 404 {
			t.Errorf("a refused CreateBucket made bkt2: %d", r.code)
		}
		if r := e.mustDo(t, 200, "AKALICE", "GET", "/bkt/k", nil); string(r.body) != "data" {
			t.Errorf("bkt/k changed: %q", r.body)
		}
	})
}

// TestSDKListBucketsPaginated: max-buckets and the continuation token, as
// current SDKs page ListBuckets.
func TestSDKListBucketsPaginated(t *testing.T) {
	e := newLiveEnv(t, false, "")
	c := e.sdk(t, aliceKey, "")
	ctx := context.Background()
	for _, b := range []string{"page-a", "page-b", "page-c"} {
		mkBucketSDK(t, c, b)
	}
	var names []string
	p := s3.NewListBucketsPaginator(c, &s3.ListBucketsInput{MaxBuckets: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(out.Buckets) > 2 {
			t.Fatalf("page of %d buckets", len(out.Buckets))
		}
		for _, b := range out.Buckets {
			names = append(names, aws.ToString(b.Name))
		}
	}
	if pages != 2 || strings.Join(names, ",") != "page-a,page-b,page-c" {
		t.Fatalf("%d pages: %v", pages, names)
	}
}
