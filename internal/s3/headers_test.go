package s3

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// rawResponse is an answer as it came off the wire: the status line and the
// header lines with their names exactly as the server spelled them.
type rawResponse struct {
	status string
	lines  [][2]string // name, value, in wire order
	body   []byte
}

// get returns the first value of the header name, in any spelling.
func (r rawResponse) get(name string) string {
	for _, l := range r.lines {
		if strings.EqualFold(l[0], name) {
			return l[1]
		}
	}
	return ""
}

// exact returns every value of the header spelled exactly name.
func (r rawResponse) exact(name string) []string {
	var out []string
	for _, l := range r.lines {
		if l[0] == name {
			out = append(out, l[1])
		}
	}
	return out
}

// rawDo sends one HTTP/1.1 request over a fresh TCP connection and returns
// the answer unparsed by net/http, which would canonicalise header names on
// read and hide how the server spelled them.
func rawDo(t *testing.T, addr, method, target string, body []byte, hdr ...string) rawResponse {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var req bytes.Buffer
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: TEST AKALICE\r\nConnection: close\r\nContent-Length: %d\r\n", method, target, addr, len(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		fmt.Fprintf(&req, "%s: %s\r\n", hdr[i], hdr[i+1])
	}
	req.WriteString("\r\n")
	req.Write(body)
	if _, err := conn.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	head, rest, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("%s %s: no end of header in %q", method, target, raw)
	}
	sc := bufio.NewScanner(bytes.NewReader(head))
	var out rawResponse
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if out.status == "" {
			out.status = line
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("%s %s: malformed header line %q", method, target, line)
		}
		out.lines = append(out.lines, [2]string{name, strings.TrimSpace(value)})
	}
	out.body = rest
	for _, l := range out.lines {
		if lk := strings.ToLower(l[0]); strings.HasPrefix(lk, "x-amz-") && l[0] != lk {
			t.Errorf("%s %s: header %q on the wire, AWS spells it %q", method, target, l[0], lk)
		}
	}
	return out
}

// TestWireHeaderSpelling reads answers byte for byte: user metadata names
// and every x-amz-* header go out lowercase, as AWS sends them, on every
// operation that returns them. boto3 keeps metadata names as received, so
// a capitalised X-Amz-Meta-Color shows up as Metadata["Color"].
func TestWireHeaderSpelling(t *testing.T) {
	bothBackends(t, func(t *testing.T, opt func(*Config)) {
		e := newEnv(t, opt)
		ts := httptest.NewServer(e.srv)
		t.Cleanup(ts.Close)
		addr := ts.Listener.Addr().String()
		do := func(want int, method, target string, body []byte, hdr ...string) rawResponse {
			t.Helper()
			r := rawDo(t, addr, method, target, body, hdr...)
			if !strings.HasPrefix(r.status, fmt.Sprintf("HTTP/1.1 %d ", want)) {
				t.Fatalf("%s %s: %s, want %d: %s", method, target, r.status, want, r.body)
			}
			if len(r.exact("x-amz-request-id")) != 1 || len(r.exact("x-amz-id-2")) != 1 {
				t.Errorf("%s %s: request id headers %q", method, target, r.lines)
			}
			return r
		}
		wantMeta := func(r rawResponse, what string, want map[string]string) {
			t.Helper()
			got := map[string]string{}
			for _, l := range r.lines {
				if strings.HasPrefix(strings.ToLower(l[0]), "x-amz-meta-") {
					got[l[0]] = l[1]
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: metadata on the wire %v, want %v", what, got, want)
			}
		}
		do(200, "PUT", "/bkt", nil)
		// Clients send metadata names in any case; S3 stores them lowercase.
		put := do(200, "PUT", "/bkt/obj", []byte("hello"),
			"x-amz-meta-Color", "blue", "X-AMZ-META-Two-Words", "a b", "x-amz-checksum-crc32", "NhCmhg==")
		if got := put.exact("x-amz-checksum-crc32"); len(got) != 1 || got[0] != "NhCmhg==" {
			t.Errorf("PUT checksum echo %q", put.lines)
		}
		want := map[string]string{"x-amz-meta-color": "blue", "x-amz-meta-two-words": "a b"}
		for _, m := range []string{"GET", "HEAD"} {
			wantMeta(do(200, m, "/bkt/obj", nil), m, want)
		}
		if r := do(206, "GET", "/bkt/obj?partNumber=1", nil); len(r.exact("x-amz-mp-parts-count")) != 1 {
			t.Errorf("part read: %q", r.lines)
		}
		// COPY keeps the source's metadata, REPLACE takes the request's.
		do(200, "PUT", "/bkt/copied", nil, "x-amz-copy-source", "/bkt/obj")
		wantMeta(do(200, "HEAD", "/bkt/copied", nil), "COPY", want)
		do(200, "PUT", "/bkt/replaced", nil, "x-amz-copy-source", "/bkt/obj",
			"x-amz-metadata-directive", "REPLACE", "X-Amz-Meta-Shape", "Round")
		wantMeta(do(200, "HEAD", "/bkt/replaced", nil), "REPLACE", map[string]string{"x-amz-meta-shape": "Round"})
		// Multipart keeps what CreateMultipartUpload named.
		r := do(200, "POST", "/bkt/mp?uploads", nil, "X-Amz-Meta-Part-Owner", "Alice")
		id := between(string(r.body), "<UploadId>", "</UploadId>")
		p1 := do(200, "PUT", "/bkt/mp?partNumber=1&uploadId="+id, []byte("part"))
		do(200, "POST", "/bkt/mp?uploadId="+id, []byte("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"+p1.get("ETag")+"</ETag></Part></CompleteMultipartUpload>"))
		wantMeta(do(200, "GET", "/bkt/mp", nil), "multipart", map[string]string{"x-amz-meta-part-owner": "Alice"})
		if r := do(200, "HEAD", "/bkt", nil); len(r.exact("x-amz-bucket-region")) != 1 {
			t.Errorf("HeadBucket: %q", r.lines)
		}
		if r := do(404, "HEAD", "/bkt/missing", nil); len(r.exact("x-amz-error-code")) != 1 {
			t.Errorf("HEAD error: %q", r.lines)
		}
		do(404, "GET", "/bkt/missing", nil)
	})
}

// between returns the text of s between the first open and the next close.
func between(s, open, close string) string {
	_, rest, ok := strings.Cut(s, open)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, close)
	return v
}

// TestExpectContinueEmptyBody: a request with Expect: 100-continue and an
// empty body gets "100 Continue" before its answer, as from S3. net/http
// may skip it (RFC 9110 allows that when there is no body), but botocore
// before 1.31 then parses the next answer on the same connection with the
// previous status line and hangs until its read timeout: boto3 put_object
// with an empty body followed by any request stalled for 60 s.
func TestExpectContinueEmptyBody(t *testing.T) {
	e := newEnv(t)
	ts := httptest.NewServer(e.srv)
	t.Cleanup(ts.Close)
	e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
	addr := ts.Listener.Addr().String()
	for _, tc := range []struct {
		name, target string
		body         []byte
		want         string
	}{
		{"empty PUT", "/bkt/empty", nil, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"},
		{"PUT with body", "/bkt/one", []byte("x"), "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"},
	} {
		r := rawDo(t, addr, "PUT", tc.target, tc.body, "Expect", "100-continue")
		// rawDo cut the first header block: the 100 Continue one.
		got := r.status + "\r\n\r\n" + string(r.body)
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: answer begins %q, want %q", tc.name, got, tc.want)
		}
	}
}
