package sigv4

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzParseAuthorization feeds arbitrary Authorization headers to the parser and to Verify:
// neither may panic, and every failure must be an *Error with a known code.
func FuzzParseAuthorization(f *testing.F) {
	good := signSpec{}.build(f).Header.Get("Authorization")
	for _, s := range []string{
		good,
		"",
		"AWS4-HMAC-SHA256",
		"AWS4-HMAC-SHA256 ",
		"AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request",
		"AWS4-HMAC-SHA256 Credential=/20261122/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
		"AWS4-HMAC-SHA256 Credential=AK/20261122/us-east-1/s3/aws4_request,SignedHeaders=;;,Signature=" + strings.Repeat("a", 64),
		"AWS4-HMAC-SHA256 Credential=AK/2026112X/us-east-1/s3/aws4_request, SignedHeaders=Host, Signature=" + strings.Repeat("g", 64),
		"AWS4-HMAC-SHA256 Credential==, Credential==, ,,,",
		"AWS AKID:c2lnbmF0dXJl",
		"AWS4-ECDSA-P256-SHA256 Credential=x",
		"Bearer token",
		strings.Replace(good, ", ", ",", -1),
		good + ", Extra=1",
	} {
		f.Add(s)
	}
	v := testVerifier()
	f.Fuzz(func(t *testing.T, h string) {
		a, e := parseAuthorization(h)
		if e == nil {
			if a.cred.accessKeyID == "" || len(a.cred.date) != 8 || a.signedHeaders == "" {
				t.Fatalf("accepted incomplete header %q: %+v", h, a)
			}
		} else if _, ok := codeStatus[e.Code]; !ok {
			t.Fatalf("unknown code %q", e.Code)
		}
		r := httptest.NewRequest("GET", "/bucket/key", nil)
		r.Header.Set("Authorization", h)
		r.Header.Set("X-Amz-Date", testNow.Format(amzDateLayout))
		r.Header.Set("X-Amz-Content-Sha256", emptySHA256Hex)
		res, err := v.Verify(r)
		if err == nil {
			if h != good {
				// Only a correctly signed header may pass, and the test request differs from
				// the one that was signed (host), so nothing may pass here.
				t.Fatalf("Verify accepted %q", h)
			}
			res.Body.Close()
			return
		}
		var ve *Error
		if !errors.As(err, &ve) {
			t.Fatalf("Verify returned a non-*Error: %v", err)
		}
	})
}

// Run each target for about a minute with, e.g.,
//
//	go test -run XXX -fuzz FuzzChunkedReader -fuzztime 60s -fuzzminimizetime 2s ./internal/s3/sigv4
//
// (-fuzzminimizetime keeps the engine from spending its default minute minimising each new
// multi-kilobyte interesting input, which otherwise stalls the run).

// FuzzChunkedReader decodes arbitrary bytes as an aws-chunked body in each mode: no panic,
// no unbounded work, and every error is an *Error; a body that decodes cleanly must have
// exactly the declared length.
func FuzzChunkedReader(f *testing.F) {
	data := testData(3000)
	for _, c := range []chunkSpec{
		{data: data, sizes: []int{1000}, mode: StreamingPayload},
		{data: data, mode: StreamingPayloadTrailer, trailer: "x-amz-checksum-crc32"},
		{data: data, sizes: []int{10, 20}, mode: StreamingUnsignedTrailer, trailer: "x-amz-checksum-crc32c"},
		{data: nil, mode: StreamingUnsignedTrailer, trailer: "x-amz-checksum-sha256"},
	} {
		r := streamingReq(f, c, nil)
		body, _ := io.ReadAll(r.Body)
		f.Add(body, uint8(modeIndex(c.mode)), int64(len(c.data)))
	}
	f.Add([]byte("0\r\n\r\n"), uint8(2), int64(0))
	f.Add([]byte("ffffffff\r\n"), uint8(2), int64(10))
	f.Add([]byte("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\n\r\n\r\n"), uint8(2), int64(3))

	date := testNow.Format("20060102")
	key := refSigningKey(testSK, date, testRegion, testService)
	f.Fuzz(func(t *testing.T, body []byte, mode uint8, declared int64) {
		declared &= 1<<40 - 1 // x-amz-decoded-content-length is parsed as non-negative
		m := []string{StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedTrailer}[int(mode)%3]
		cr := &chunkReader{
			br:            newChunkBufReader(bytes.NewReader(body)),
			signed:        m != StreamingUnsignedTrailer,
			trailerMode:   m != StreamingPayload,
			signedTrailer: m == StreamingPayloadTrailer,
			decodedLen:    declared,
			mac:           newHMAC(),
			key:           key,
			amzDate:       testNow.Format(amzDateLayout),
			scope:         date + "/" + testRegion + "/" + testService + "/aws4_request",
			chunkHash:     sha256.New(),
			declared:      []string{"x-amz-checksum-crc32"},
		}
		br := &bodyReader{src: cr, chunks: cr, want: declared}
		n := int64(0)
		buf := make([]byte, 512)
		for i := 0; ; i++ {
			k, err := br.Read(buf)
			n += int64(k)
			if n > int64(len(body)) {
				t.Fatalf("decoded %d bytes from a %d-byte body", n, len(body))
			}
			if err == io.EOF {
				if n != declared {
					t.Fatalf("clean EOF after %d bytes, declared %d", n, declared)
				}
				return
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("non-*Error %v", err)
				}
				return
			}
			if i > len(body)+10 {
				t.Fatal("reader makes no progress")
			}
		}
	})
}

func modeIndex(m string) int {
	switch m {
	case StreamingPayloadTrailer:
		return 1
	case StreamingUnsignedTrailer:
		return 2
	}
	return 0
}
