package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
)

// Limits of the aws-chunked decoder. Every SDK sends chunks of 8 KiB to 1 MiB (minio-go uses
// 16 MiB at most for its largest parts, AWS caps chunk size by the part size), so 16 MiB per
// chunk is generous; the header and trailer limits are orders of magnitude above what a
// well-formed request needs.
const (
	// MaxChunkSize bounds the data length one aws-chunked chunk may declare.
	MaxChunkSize = 16 << 20
	// MaxChunkLineLen bounds one chunk header line ("SIZE;chunk-signature=SIG\r\n") and
	// each trailer line.
	MaxChunkLineLen = 4 << 10
	// MaxTrailerLen bounds the whole trailer section after the final chunk.
	MaxTrailerLen = 16 << 10
	// MaxTrailingCRLF is how many stray CR/LF bytes are tolerated after the end of an
	// aws-chunked body (minio-go ends its unsigned trailer with an extra "\r\n").
	MaxTrailingCRLF = 4
)

// emptySHA256Hex is the hex SHA-256 of the empty string, part of every chunk string-to-sign.
const emptySHA256Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

var emptySHA256 = sha256.Sum256(nil)

// digestCheck is one digest the payload must match: x-amz-content-sha256, Content-MD5, an
// x-amz-checksum-* header, or a checksum trailer (whose value arrives only at the end).
type digestCheck struct {
	h     hash.Hash
	want  []byte // nil until known, for a trailer
	code  string // error code on mismatch
	label string // header or trailer name for the message
	// trailer is the lower-case trailer name whose value becomes want; "" for headers.
	trailer string
}

// bodyReader is Result.Body: it reads the decoded payload, feeds every digest, and at the end
// of the payload returns io.EOF only if every digest, the declared length and (for
// aws-chunked) every signature matched. Otherwise the caller sees an *Error where io.EOF would
// have been, so a backend that commits only on clean EOF never stores a bad body.
type bodyReader struct {
	src    io.Reader
	closer io.Closer
	chunks *chunkReader // nil unless aws-chunked
	checks []digestCheck
	n      int64
	want   int64 // decoded length expected, -1 unknown
	err    error // sticky: io.EOF after success, *Error after failure
}

// Read implements io.Reader with the guarantee described on bodyReader.
func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.src.Read(p)
	if n > 0 {
		for i := range b.checks {
			b.checks[i].h.Write(p[:n])
		}
		b.n += int64(n)
		if b.want >= 0 && b.n > b.want {
			b.err = newErr(CodeInvalidRequest, "the request body is longer than its declared length", nil)
			return 0, b.err
		}
	}
	if err == nil {
		return n, nil
	}
	if err == io.EOF {
		if e := b.finish(); e != nil {
			b.err = e
			return n, e
		}
		b.err = io.EOF
		return n, io.EOF
	}
	b.err = mapReadErr(err)
	return n, b.err
}

// finish runs every end-of-payload check.
func (b *bodyReader) finish() *Error {
	if b.want >= 0 && b.n != b.want {
		return newErr(CodeIncompleteBody, "the request body ended after "+strconv.FormatInt(b.n, 10)+
			" of "+strconv.FormatInt(b.want, 10)+" bytes", nil)
	}
	var sum [64]byte
	for i := range b.checks {
		c := &b.checks[i]
		if c.trailer != "" {
			v, ok := b.chunks.trailerValue(c.trailer)
			if !ok {
				return newErr(CodeInvalidRequest, "the trailer "+c.trailer+" declared in x-amz-trailer was not sent", nil)
			}
			want, ok := decodeDigest(v, c.h.Size())
			if !ok {
				return newErr(CodeInvalidRequest, "the value of the trailer "+c.trailer+" is not a valid base64 checksum", nil)
			}
			c.want = want
		}
		got := c.h.Sum(sum[:0])
		if !hmac.Equal(got, c.want) {
			switch c.code {
			case CodeXAmzContentSHA256Mismatch:
				return newErr(c.code, "the SHA-256 of the body does not match x-amz-content-sha256", nil)
			default:
				return newErr(c.code, "the "+c.label+" you specified did not match the calculated checksum", nil)
			}
		}
	}
	return nil
}

// Close closes the underlying request body.
func (b *bodyReader) Close() error {
	if b.closer == nil {
		return nil
	}
	return b.closer.Close()
}

// decodeDigest decodes a base64 checksum value of exactly size bytes.
func decodeDigest(v string, size int) ([]byte, bool) {
	if base64.StdEncoding.DecodedLen(len(v)) < size || len(v) > 2*base64.StdEncoding.EncodedLen(size) {
		return nil, false
	}
	d, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(d) != size {
		return nil, false
	}
	return d, true
}

// mapReadErr turns an error from the underlying body into the *Error the contract promises.
func mapReadErr(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return newErr(CodeEntityTooLarge, "the request body exceeds the maximum allowed size", err)
	}
	return newErr(CodeIncompleteBody, "the request body ended before its declared length or could not be read", err)
}

// chunkReader decodes an aws-chunked body (AWS SigV4 "Signature calculation: transfer payload
// in multiple chunks" and "… including trailing headers"):
//
//	hex(size);chunk-signature=SIG\r\n DATA \r\n ... 0;chunk-signature=SIG\r\n [trailers] \r\n
//
// In signed mode every chunk signature is checked against the chain that starts at the seed
// (request) signature; in unsigned mode chunks are "hex(size)\r\n". Trailers, when expected,
// are "name:value" lines after the final chunk, followed in signed mode by
// x-amz-trailer-signature. Data is released as it streams; a bad chunk signature surfaces as
// an error at the end of that chunk, always before io.EOF.
type chunkReader struct {
	br            *bufio.Reader
	signed        bool
	trailerMode   bool
	signedTrailer bool

	mac       *hmacSHA256
	key       [32]byte
	amzDate   string
	scope     string
	prev      [32]byte // previous signature in the chain
	chunkHash hash.Hash
	want      [32]byte
	sts       []byte   // string-to-sign buffer, reused per chunk
	sum, got  [32]byte // digest scratch; fields so they do not escape per chunk

	remaining  int64
	state      int
	decoded    int64
	decodedLen int64

	declared []string    // lower-case trailer names from x-amz-trailer
	trailers [][2]string // received trailers, lower-case name and raw value
	err      error
}

const (
	stHeader = iota
	stData
	stDone
)

// Read returns decoded payload bytes.
func (c *chunkReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for {
		switch c.state {
		case stHeader:
			if err := c.readChunkHeader(); err != nil {
				c.err = err
				return 0, err
			}
		case stData:
			if c.remaining == 0 {
				if err := c.endChunk(); err != nil {
					c.err = err
					return 0, err
				}
				c.state = stHeader
				continue
			}
			if len(p) == 0 {
				return 0, nil
			}
			m := p
			if int64(len(m)) > c.remaining {
				m = m[:c.remaining]
			}
			n, err := c.br.Read(m)
			if n > 0 {
				if c.signed {
					c.chunkHash.Write(m[:n])
				}
				c.remaining -= int64(n)
				c.decoded += int64(n)
				return n, nil
			}
			if err == nil {
				continue
			}
			if err == io.EOF {
				c.err = newErr(CodeIncompleteBody, "the aws-chunked body ended inside a chunk", nil)
			} else {
				c.err = mapReadErr(err)
			}
			return 0, c.err
		default:
			return 0, io.EOF
		}
	}
}

// readLine reads one line terminated by "\n" (at most MaxChunkLineLen bytes) and returns it
// without the terminator and without a preceding "\r"; crlf tells whether "\r" was there.
// atEOF is set when the body ended exactly at a line boundary.
func (c *chunkReader) readLine() (line []byte, crlf, atEOF bool, e *Error) {
	b, err := c.br.ReadSlice('\n')
	switch {
	case err == nil:
	case err == bufio.ErrBufferFull:
		return nil, false, false, newErr(CodeInvalidRequest, "an aws-chunked header or trailer line is longer than "+strconv.Itoa(MaxChunkLineLen)+" bytes", nil)
	case err == io.EOF:
		if len(b) == 0 {
			return nil, false, true, nil
		}
		return nil, false, false, newErr(CodeIncompleteBody, "the aws-chunked body ended inside a header or trailer line", nil)
	default:
		return nil, false, false, mapReadErr(err)
	}
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1], true, false, nil
	}
	return b, false, false, nil
}

// readChunkHeader parses "hex(size)[;chunk-signature=SIG]\r\n".
func (c *chunkReader) readChunkHeader() *Error {
	line, crlf, atEOF, e := c.readLine()
	if e != nil {
		return e
	}
	if atEOF {
		return newErr(CodeIncompleteBody, "the aws-chunked body ended before its final chunk", nil)
	}
	if !crlf {
		return newErr(CodeInvalidRequest, "an aws-chunked chunk header must end with CRLF", nil)
	}
	sizePart, ext := line, []byte(nil)
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		sizePart, ext = line[:i], line[i+1:]
	}
	size, ok := parseHexSize(sizePart)
	if !ok {
		return newErr(CodeInvalidRequest, "an aws-chunked chunk size is not a hexadecimal number of at most "+strconv.Itoa(MaxChunkSize)+" bytes", nil)
	}
	if c.signed {
		const prefix = "chunk-signature="
		if len(ext) != len(prefix)+64 || string(ext[:len(prefix)]) != prefix {
			return newErr(CodeInvalidRequest, "an aws-chunked chunk header lacks ;chunk-signature=SIGNATURE", nil)
		}
		if _, err := hex.Decode(c.want[:], ext[len(prefix):]); err != nil {
			return newErr(CodeInvalidRequest, "an aws-chunked chunk signature is not hexadecimal", nil)
		}
		c.chunkHash.Reset()
	} else if ext != nil {
		return newErr(CodeInvalidRequest, "unsigned aws-chunked chunks carry no extensions", nil)
	}
	if c.decodedLen >= 0 && c.decoded+size > c.decodedLen {
		return newErr(CodeInvalidRequest, "the aws-chunked data is longer than x-amz-decoded-content-length", nil)
	}
	c.remaining = size
	if size > 0 {
		c.state = stData
		return nil
	}
	// Final chunk.
	if c.signed {
		if e := c.verifyChunk(); e != nil {
			return e
		}
	}
	if c.decodedLen >= 0 && c.decoded != c.decodedLen {
		return newErr(CodeIncompleteBody, "the aws-chunked data ended after "+strconv.FormatInt(c.decoded, 10)+
			" of "+strconv.FormatInt(c.decodedLen, 10)+" bytes (x-amz-decoded-content-length)", nil)
	}
	if c.trailerMode {
		if e := c.readTrailers(); e != nil {
			return e
		}
	}
	if e := c.expectEnd(); e != nil {
		return e
	}
	c.state = stDone
	return nil
}

// parseHexSize parses a chunk size: 1 to 8 hex digits, at most MaxChunkSize.
func parseHexSize(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 8 {
		return 0, false
	}
	var n int64
	for _, ch := range b {
		d, ok := unhex(ch)
		if !ok {
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	return n, n <= MaxChunkSize
}

// endChunk consumes the CRLF after chunk data and checks the chunk signature.
func (c *chunkReader) endChunk() *Error {
	b1, err1 := c.br.ReadByte()
	b2, err2 := c.br.ReadByte()
	if err1 != nil || err2 != nil {
		if (err1 == nil || err1 == io.EOF) && (err2 == nil || err2 == io.EOF) {
			return newErr(CodeIncompleteBody, "the aws-chunked body ended after chunk data", nil)
		}
		if err1 != nil {
			return mapReadErr(err1)
		}
		return mapReadErr(err2)
	}
	if b1 != '\r' || b2 != '\n' {
		return newErr(CodeInvalidRequest, "aws-chunked chunk data must be followed by CRLF", nil)
	}
	if c.signed {
		return c.verifyChunk()
	}
	return nil
}

// verifyChunk checks c.want against the chunk string-to-sign
//
//	AWS4-HMAC-SHA256-PAYLOAD \n DATE \n SCOPE \n PREVIOUS-SIG \n hash("") \n hash(chunk)
func (c *chunkReader) verifyChunk() *Error {
	c.chunkHash.Sum(c.sum[:0])
	b := append(c.sts[:0], "AWS4-HMAC-SHA256-PAYLOAD\n"...)
	b = append(b, c.amzDate...)
	b = append(b, '\n')
	b = append(b, c.scope...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, c.prev[:])
	b = append(b, "\n"+emptySHA256Hex+"\n"...)
	b = hex.AppendEncode(b, c.sum[:])
	c.sts = b
	c.mac.mac(c.key[:], b, &c.got)
	if !hmac.Equal(c.got[:], c.want[:]) {
		return newErr(CodeSignatureDoesNotMatch, "an aws-chunked chunk signature does not match; the chunk was altered, reordered or signed with another key", nil)
	}
	c.prev = c.want
	return nil
}

// readTrailers reads the trailer section after the final chunk. Lines end with "\n" or
// "\r\n"; the section ends with an empty line (or the end of the body). In signed mode the
// last trailer is x-amz-trailer-signature over "name:value\n" of each trailer before it;
// empty lines before it are skipped (minio-go writes one).
func (c *chunkReader) readTrailers() *Error {
	total := 0
	var th hash.Hash
	if c.signedTrailer {
		th = sha256.New()
	}
	sigSeen := false
	for {
		line, _, atEOF, e := c.readLine()
		if e != nil {
			return e
		}
		if atEOF {
			break
		}
		total += len(line) + 2
		if total > MaxTrailerLen {
			return newErr(CodeInvalidRequest, "the aws-chunked trailer section is longer than "+strconv.Itoa(MaxTrailerLen)+" bytes", nil)
		}
		if len(line) == 0 {
			if c.signedTrailer && !sigSeen {
				continue
			}
			break
		}
		if sigSeen {
			return newErr(CodeInvalidRequest, "nothing may follow x-amz-trailer-signature in the trailer section", nil)
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return newErr(CodeInvalidRequest, "an aws-chunked trailer line is not NAME:VALUE", nil)
		}
		name := string(bytes.ToLower(line[:i]))
		value := string(line[i+1:])
		if name == "x-amz-trailer-signature" {
			if !c.signedTrailer {
				return newErr(CodeInvalidRequest, "x-amz-trailer-signature sent in an unsigned-trailer request", nil)
			}
			var want [32]byte
			if !parseSignature(value, &want) {
				return newErr(CodeInvalidRequest, "x-amz-trailer-signature must be 64 hexadecimal digits", nil)
			}
			if e := c.verifyTrailer(th, &want); e != nil {
				return e
			}
			sigSeen = true
			continue
		}
		if !containsString(c.declared, name) {
			return newErr(CodeInvalidRequest, "the trailer "+strconv.Quote(trunc(name))+" was not declared in x-amz-trailer", nil)
		}
		if _, dup := c.trailerValue(name); dup {
			return newErr(CodeInvalidRequest, "the trailer "+name+" was sent twice", nil)
		}
		c.trailers = append(c.trailers, [2]string{name, value})
		if th != nil {
			th.Write([]byte(name))
			th.Write([]byte{':'})
			th.Write([]byte(value))
			th.Write([]byte{'\n'})
		}
	}
	if c.signedTrailer && !sigSeen {
		return newErr(CodeIncompleteBody, "the aws-chunked body ended without x-amz-trailer-signature", nil)
	}
	for _, d := range c.declared {
		if _, ok := c.trailerValue(d); !ok {
			return newErr(CodeInvalidRequest, "the trailer "+d+" declared in x-amz-trailer was not sent", nil)
		}
	}
	return nil
}

// verifyTrailer checks the trailer signature:
//
//	AWS4-HMAC-SHA256-TRAILER \n DATE \n SCOPE \n PREVIOUS-SIG \n hash(trailers)
func (c *chunkReader) verifyTrailer(th hash.Hash, want *[32]byte) *Error {
	th.Sum(c.sum[:0])
	b := append(c.sts[:0], "AWS4-HMAC-SHA256-TRAILER\n"...)
	b = append(b, c.amzDate...)
	b = append(b, '\n')
	b = append(b, c.scope...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, c.prev[:])
	b = append(b, '\n')
	b = hex.AppendEncode(b, c.sum[:])
	c.sts = b
	c.mac.mac(c.key[:], b, &c.got)
	if !hmac.Equal(c.got[:], want[:]) {
		return newErr(CodeSignatureDoesNotMatch, "the aws-chunked trailer signature does not match; a trailer was altered", nil)
	}
	return nil
}

// expectEnd accepts the end of the body after at most MaxTrailingCRLF stray CR/LF bytes.
func (c *chunkReader) expectEnd() *Error {
	for i := 0; ; i++ {
		b, err := c.br.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return mapReadErr(err)
		}
		if (b != '\r' && b != '\n') || i >= MaxTrailingCRLF {
			return newErr(CodeInvalidRequest, "unexpected data after the final aws-chunked chunk", nil)
		}
	}
}

// trailerValue returns a received trailer's raw value.
func (c *chunkReader) trailerValue(name string) (string, bool) {
	for _, t := range c.trailers {
		if t[0] == name {
			return trimSpaceString(t[1]), true
		}
	}
	return "", false
}

func trimSpaceString(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
