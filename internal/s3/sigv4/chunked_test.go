package sigv4

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func testData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestCRC64NVMEVector(t *testing.T) {
	// Test vector from aws-sdk-go-v2 service/internal/checksum algorithms_test.go.
	h := crc64.New(crc64NVMETable)
	h.Write([]byte("hello world"))
	if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); got != "jSnVw/bqjr4=" {
		t.Fatalf("crc64nvme(hello world) = %s, want jSnVw/bqjr4=", got)
	}
	// Check value of the CRC-64/NVME catalogue entry: crc("123456789") = 0xae8b14860a799888.
	if got := crc64.Checksum([]byte("123456789"), crc64NVMETable); got != 0xae8b14860a799888 {
		t.Fatalf("crc64nvme(123456789) = %#x", got)
	}
}

func TestStreaming(t *testing.T) {
	data := testData(200 << 10)
	swapChunks := func(b []byte) []byte {
		// Swap the first two 64 KiB chunks (equal length, so framing stays valid).
		first := bytes.Index(b, []byte("\r\n")) + 2
		hdrLen := first
		chunkLen := hdrLen + 64<<10 + 2
		out := append([]byte(nil), b...)
		copy(out[:chunkLen], b[chunkLen:2*chunkLen])
		copy(out[chunkLen:2*chunkLen], b[:chunkLen])
		return out
	}
	flipData := func(b []byte) []byte {
		out := append([]byte(nil), b...)
		out[bytes.Index(out, []byte("\r\n"))+100] ^= 1
		return out
	}
	tests := []struct {
		name    string
		spec    chunkSpec
		mutate  func([]byte) []byte
		headers map[string]string // set after signing (unsigned) — only non-x-amz
		code    string            // from Verify
		bodyErr string            // from the body reader
		short   bool              // body reader errors before all data is returned
	}{
		{name: "signed", spec: chunkSpec{data: data, sizes: []int{64 << 10, 64 << 10}, mode: StreamingPayload}},
		{name: "signed empty", spec: chunkSpec{data: nil, mode: StreamingPayload}},
		{name: "signed single chunk", spec: chunkSpec{data: data[:10], mode: StreamingPayload}},
		{name: "signed trailer crc32", spec: chunkSpec{data: data, sizes: []int{64 << 10}, mode: StreamingPayloadTrailer, trailer: "x-amz-checksum-crc32"}},
		{name: "signed trailer crc64nvme", spec: chunkSpec{data: data, mode: StreamingPayloadTrailer, trailer: "x-amz-checksum-crc64nvme"}},
		{name: "unsigned trailer crc32", spec: chunkSpec{data: data, sizes: []int{8192, 8192}, mode: StreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32"}},
		{name: "unsigned trailer crc32c", spec: chunkSpec{data: data, mode: StreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32c"}},
		{name: "unsigned trailer sha1", spec: chunkSpec{data: data, mode: StreamingUnsignedTrailer, trailer: "x-amz-checksum-sha1"}},
		{name: "unsigned trailer sha256", spec: chunkSpec{data: data, mode: StreamingUnsignedTrailer, trailer: "x-amz-checksum-sha256"}},
		{name: "unsigned trailer crc64nvme", spec: chunkSpec{data: data, mode: StreamingUnsignedTrailer, trailer: "x-amz-checksum-crc64nvme"}},
		{name: "minio style trailer blank line", spec: chunkSpec{data: data, mode: StreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32"},
			mutate: func(b []byte) []byte { return append(b, "\r\n"...) }},

		{name: "tampered chunk signature", spec: chunkSpec{data: data, sizes: []int{64 << 10}, mode: StreamingPayload, tamperSig: 1},
			bodyErr: CodeSignatureDoesNotMatch, short: true},
		{name: "tampered final chunk signature", spec: chunkSpec{data: data[:100], mode: StreamingPayload, tamperSig: 2},
			bodyErr: CodeSignatureDoesNotMatch},
		{name: "tampered chunk data", spec: chunkSpec{data: data, sizes: []int{64 << 10}, mode: StreamingPayload}, mutate: flipData,
			bodyErr: CodeSignatureDoesNotMatch, short: true},
		{name: "reordered chunks", spec: chunkSpec{data: data, sizes: []int{64 << 10, 64 << 10}, mode: StreamingPayload}, mutate: swapChunks,
			bodyErr: CodeSignatureDoesNotMatch, short: true},
		{name: "bad trailer checksum", spec: chunkSpec{data: data, mode: StreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32", trailerV: "AAAAAA=="},
			bodyErr: CodeBadDigest},
		{name: "bad signed trailer checksum", spec: chunkSpec{data: data, mode: StreamingPayloadTrailer, trailer: "x-amz-checksum-sha256", trailerV: b64(make([]byte, 32))},
			bodyErr: CodeBadDigest},
		{name: "tampered trailer after signing", spec: chunkSpec{data: data, mode: StreamingPayloadTrailer, trailer: "x-amz-checksum-crc32"},
			mutate: func(b []byte) []byte {
				i := bytes.Index(b, []byte("x-amz-checksum-crc32:")) + len("x-amz-checksum-crc32:")
				out := append([]byte(nil), b...)
				out[i] ^= 1
				return out
			}, bodyErr: CodeSignatureDoesNotMatch},
		{name: "missing trailer signature", spec: chunkSpec{data: data, mode: StreamingPayloadTrailer, trailer: "x-amz-checksum-crc32"},
			mutate: func(b []byte) []byte {
				i := bytes.Index(b, []byte("x-amz-trailer-signature:"))
				return append(append([]byte(nil), b[:i]...), "\r\n"...)
			}, bodyErr: CodeIncompleteBody},
		{name: "undeclared trailer", spec: chunkSpec{data: data, mode: StreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32"},
			mutate: func(b []byte) []byte {
				return bytes.Replace(b, []byte("x-amz-checksum-crc32:"), []byte("x-amz-checksum-crc32c:"), 1)
			}, bodyErr: CodeInvalidRequest},
		{name: "truncated", spec: chunkSpec{data: data, mode: StreamingPayload}, mutate: func(b []byte) []byte { return b[:len(b)/2] },
			bodyErr: CodeIncompleteBody, short: true},
		{name: "truncated before final chunk", spec: chunkSpec{data: data, mode: StreamingPayload}, mutate: func(b []byte) []byte {
			return b[:bytes.LastIndex(b, []byte("0;chunk-signature"))]
		}, bodyErr: CodeIncompleteBody},
		{name: "data after final chunk", spec: chunkSpec{data: data, mode: StreamingPayload}, mutate: func(b []byte) []byte { return append(b, "garbage"...) },
			bodyErr: CodeInvalidRequest},
		{name: "missing CRLF after data", spec: chunkSpec{data: data[:10], mode: StreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32"}, mutate: func(b []byte) []byte {
			return bytes.Replace(b, append(data[:10:10], "\r\n"...), append(data[:10:10], "XX"...), 1)
		}, bodyErr: CodeInvalidRequest},
		{name: "chunk larger than limit", spec: chunkSpec{data: data[:10], mode: StreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32"}, mutate: func(b []byte) []byte {
			return append([]byte(strconv.FormatInt(MaxChunkSize+1, 16)+"\r\n"), b[3:]...)
		}, bodyErr: CodeInvalidRequest, short: true},
		{name: "chunk header too long", spec: chunkSpec{data: data[:10], mode: StreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32"}, mutate: func(b []byte) []byte {
			return append([]byte("a"+strings.Repeat(" ", MaxChunkLineLen)+"\r\n"), b...)
		}, bodyErr: CodeInvalidRequest, short: true},
		{name: "chunk size not hex", spec: chunkSpec{data: data[:10], mode: StreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32"}, mutate: func(b []byte) []byte {
			return append([]byte("zz\r\n"), b[3:]...)
		}, bodyErr: CodeInvalidRequest, short: true},
		{name: "trailer section too long", spec: chunkSpec{data: data[:10], mode: StreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32"}, mutate: func(b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-checksum-crc32:"))
			var pad []byte
			for range MaxTrailerLen/100 + 1 {
				pad = append(pad, "x-amz-checksum-crc32:"+strings.Repeat("A", 77)+"\r\n"...)
			}
			return append(append(append([]byte(nil), b[:i]...), pad...), b[i:]...)
		}, bodyErr: CodeInvalidRequest},
		{name: "duplicate trailer", spec: chunkSpec{data: data[:10], mode: StreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32"}, mutate: func(b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-checksum-crc32:"))
			j := i + bytes.Index(b[i:], []byte("\r\n")) + 2
			return append(append([]byte(nil), b[:j]...), b[i:]...)
		}, bodyErr: CodeInvalidRequest},
		{name: "more data than decoded length", spec: chunkSpec{data: data[:10], mode: StreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32"}, mutate: func(b []byte) []byte {
			return append([]byte("1\r\nX\r\n"), b...)
		}, bodyErr: CodeInvalidRequest},
		{name: "signature extension in unsigned mode", spec: chunkSpec{data: data[:10], mode: StreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32"}, mutate: func(b []byte) []byte {
			return bytes.Replace(b, []byte("a\r\n"), []byte("a;chunk-signature=00\r\n"), 1)
		}, bodyErr: CodeInvalidRequest, short: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := streamingReq(t, tc.spec, tc.mutate)
			res, err := testVerifier().Verify(r)
			wantCode(t, err, tc.code)
			if err != nil {
				return
			}
			if !res.Streaming || res.DecodedLength != int64(len(tc.spec.data)) {
				t.Fatalf("Streaming=%v DecodedLength=%d", res.Streaming, res.DecodedLength)
			}
			got, err := readAll(res.Body)
			wantCode(t, err, tc.bodyErr)
			if tc.bodyErr == "" && !bytes.Equal(got, tc.spec.data) {
				t.Fatalf("decoded %d bytes, want %d (equal=%v)", len(got), len(tc.spec.data), bytes.Equal(got, tc.spec.data))
			}
			if tc.short && len(got) >= len(tc.spec.data) {
				t.Fatalf("all %d bytes were released before the error", len(got))
			}
		})
	}
}

func TestChunkSizeLimitAccepted(t *testing.T) {
	data := testData(MaxChunkSize)
	r := streamingReq(t, chunkSpec{data: data, sizes: []int{MaxChunkSize}, mode: StreamingPayload}, nil)
	res, err := testVerifier().Verify(r)
	wantCode(t, err, "")
	n, err := io.Copy(io.Discard, res.Body)
	if err != nil || n != MaxChunkSize {
		t.Fatalf("read %d bytes: %v", n, err)
	}
}

func TestStreamingHeaderErrors(t *testing.T) {
	data := testData(100)
	tests := []struct {
		name   string
		mutate func(c *chunkSpec) // before signing
		code   string
	}{
		{name: "missing decoded length", code: CodeMissingContentLength},
		{name: "trailer not a checksum", code: CodeInvalidRequest},
		{name: "trailer without trailer mode", code: CodeInvalidRequest},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := chunkSpec{data: data, mode: StreamingPayload}
			if i > 0 {
				spec.mode = StreamingUnsignedTrailer
				spec.trailer = "x-amz-checksum-crc32"
			}
			r := streamingReq(t, spec, nil)
			switch i {
			case 0:
				r = rebuildSigned(t, r, func(h map[string]string) { delete(h, "X-Amz-Decoded-Content-Length") })
			case 1:
				r = rebuildSigned(t, r, func(h map[string]string) { h["X-Amz-Trailer"] = "x-amz-meta-foo" })
			case 2:
				r = rebuildSigned(t, r, func(h map[string]string) { h["X-Amz-Content-Sha256"] = StreamingPayload })
			}
			_, err := testVerifier().Verify(r)
			wantCode(t, err, tc.code)
		})
	}
}

// rebuildSigned re-signs a copy of r's headers after edit, keeping its body.
func rebuildSigned(t *testing.T, req *http.Request, edit func(map[string]string)) *http.Request {
	t.Helper()
	h := map[string]string{}
	for k, v := range req.Header {
		if k == "Authorization" || k == "X-Amz-Date" {
			continue
		}
		h[k] = v[0]
	}
	edit(h)
	body, _ := io.ReadAll(req.Body)
	payload := h["X-Amz-Content-Sha256"]
	delete(h, "X-Amz-Content-Sha256")
	return signSpec{method: req.Method, target: req.RequestURI, body: body, headers: h, payload: payload}.build(t)
}

func TestChecksumHeadersAllAlgorithms(t *testing.T) {
	body := testData(5000)
	for _, algo := range checksumAlgos {
		t.Run(algo.name, func(t *testing.T) {
			h := algo.new()
			h.Write(body)
			good := b64(h.Sum(nil))
			r := signSpec{method: "PUT", body: body, headers: map[string]string{"X-Amz-Checksum-" + algo.name: good}}.build(t)
			res, err := testVerifier().Verify(r)
			wantCode(t, err, "")
			if _, err := readAll(res.Body); err != nil {
				t.Fatal(err)
			}
			bad := make([]byte, algo.size)
			r = signSpec{method: "PUT", body: body, payload: UnsignedPayload, headers: map[string]string{"X-Amz-Checksum-" + algo.name: b64(bad)}}.build(t)
			res, err = testVerifier().Verify(r)
			wantCode(t, err, "")
			_, err = readAll(res.Body)
			wantCode(t, err, CodeBadDigest)
		})
	}
}

func TestChunkSigMatchesSpecExample(t *testing.T) {
	// AWS documentation example ("Signature Calculations for the Authorization Header:
	// Transferring Payload in Multiple Chunks"): secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY,
	// 20130524T000000Z, us-east-1/s3, seed signature
	// 4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9 and a first chunk of
	// 65536 'a' bytes signed ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648.
	key := refSigningKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3")
	got := chunkSig(key, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request",
		"4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9", bytes.Repeat([]byte{'a'}, 65536))
	if got != "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648" {
		t.Fatalf("chunk signature %s", got)
	}
	// And the verifier's own chunk check agrees with the reference computation.
	cr := &chunkReader{mac: newHMAC(), key: key, amzDate: "20130524T000000Z", scope: "20130524/us-east-1/s3/aws4_request", chunkHash: sha256.New()}
	hex.Decode(cr.prev[:], []byte("4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"))
	hex.Decode(cr.want[:], []byte(got))
	cr.chunkHash.Write(bytes.Repeat([]byte{'a'}, 65536))
	if e := cr.verifyChunk(); e != nil {
		t.Fatal(e)
	}
}
