package sigv4

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// BenchmarkVerifySigV4 measures Verify on a header-signed GET with a query string and the
// signing key already cached: the S3 hot path for reads. Goal: at most 10 µs and a handful of
// allocations.
func BenchmarkVerifySigV4(b *testing.B) {
	r := signSpec{target: "/bucket/some/object/key.bin?versionId=3&partNumber=1", headers: map[string]string{
		"Range":    "bytes=0-1023",
		"If-Match": `"0123456789abcdef"`,
	}}.build(b)
	v := testVerifier()
	if _, err := v.Verify(r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := v.Verify(r)
		if err != nil {
			b.Fatal(err)
		}
		_ = res
	}
}

// BenchmarkVerifySigV4Parallel is BenchmarkVerifySigV4 from all Ps, to show the key cache and
// scratch pool do not serialise requests.
func BenchmarkVerifySigV4Parallel(b *testing.B) {
	r := signSpec{target: "/bucket/key"}.build(b)
	v := testVerifier()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(r.Clone(context.Background())); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkStreamingSigned measures decoding and verifying a 4 MiB signed aws-chunked body
// (64 KiB chunks, as SDKs send): the cost per byte of a streaming PUT.
func BenchmarkStreamingSigned(b *testing.B) {
	data := testData(4 << 20)
	sizes := make([]int, 64)
	for i := range sizes {
		sizes[i] = 64 << 10
	}
	r := streamingReq(b, chunkSpec{data: data, sizes: sizes, mode: StreamingPayloadTrailer, trailer: "x-amz-checksum-crc32c"}, nil)
	body, _ := io.ReadAll(r.Body)
	v := testVerifier()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r.Body = io.NopCloser(bytes.NewReader(body))
		res, err := v.Verify(r)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, res.Body); err != nil {
			b.Fatal(err)
		}
	}
}
