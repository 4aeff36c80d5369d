package sigv4

import (
	"net/http"
	"slices"
	"strings"
)

// This file builds the SigV4 canonical request (AWS SigV4 "Create a canonical request"):
//
//	METHOD \n CanonicalURI \n CanonicalQueryString \n CanonicalHeaders \n SignedHeaders \n HashedPayload
//
// with S3's rules: the URI is the path exactly as the client escaped it (S3 neither
// normalises nor double-encodes), query names and values are URI-encoded per RFC 3986
// (unreserved characters kept, everything else %XX upper-case, space as %20) and sorted by
// encoded name then encoded value, header values are trimmed with inner runs of spaces
// collapsed and multiple values joined with ",".

const upperhex = "0123456789ABCDEF"

// isUnreserved reports RFC 3986 unreserved characters, the only ones SigV4 leaves unescaped.
func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// appendURIEncode appends s URI-encoded the SigV4 way; '/' is kept when keepSlash is set
// (object keys in paths), escaped otherwise (query components).
func appendURIEncode(dst []byte, s string, keepSlash bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || (keepSlash && c == '/') {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperhex[c>>4], upperhex[c&15])
	}
	return dst
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// isCanonicalEncoded reports whether s is already exactly what appendURIEncode would produce
// for its decoded form, so it can be used as is without decoding and re-encoding.
func isCanonicalEncoded(s string, keepSlash bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isUnreserved(c), keepSlash && c == '/':
		case c == '%':
			if i+2 >= len(s) {
				return false
			}
			h, l := s[i+1], s[i+2]
			if !(('0' <= h && h <= '9') || ('A' <= h && h <= 'F')) ||
				!(('0' <= l && l <= '9') || ('A' <= l && l <= 'F')) {
				return false
			}
			hv, _ := unhex(h)
			lv, _ := unhex(l)
			d := hv<<4 | lv
			if isUnreserved(d) || (keepSlash && d == '/') {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

// percentDecode decodes %XX escapes; with plusIsSpace (query strings, as
// application/x-www-form-urlencoded and net/url do) '+' becomes a space. ok is false on a
// malformed escape.
func percentDecode(s string, plusIsSpace bool) (string, bool) {
	n := 0
	hasPlus := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '%':
			if i+2 >= len(s) {
				return "", false
			}
			if _, ok := unhex(s[i+1]); !ok {
				return "", false
			}
			if _, ok := unhex(s[i+2]); !ok {
				return "", false
			}
			n++
			i += 2
		case '+':
			hasPlus = plusIsSpace
		}
	}
	if n == 0 && !hasPlus {
		return s, true
	}
	b := make([]byte, 0, len(s)-2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			h, _ := unhex(s[i+1])
			l, _ := unhex(s[i+2])
			b = append(b, h<<4|l)
			i += 2
		case c == '+' && plusIsSpace:
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return string(b), true
}

// queryParam is one name=value pair of the raw query: raw* are the bytes as sent, enc* the
// SigV4 encoding used in the canonical query string.
type queryParam struct {
	rawKey, rawVal string
	encKey, encVal string
}

// parseQuery splits raw into params (appending to dst). Names and values already in canonical
// form are used without copying; others are decoded and re-encoded. ok is false on a malformed
// escape sequence.
func parseQuery(dst []queryParam, raw string) ([]queryParam, bool) {
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		p := queryParam{rawKey: k, rawVal: v}
		var ok bool
		if p.encKey, ok = canonicalQueryComponent(k); !ok {
			return dst, false
		}
		if p.encVal, ok = canonicalQueryComponent(v); !ok {
			return dst, false
		}
		dst = append(dst, p)
	}
	return dst, true
}

func canonicalQueryComponent(s string) (string, bool) {
	if isCanonicalEncoded(s, false) {
		return s, true
	}
	d, ok := percentDecode(s, true)
	if !ok {
		return "", false
	}
	return string(appendURIEncode(nil, d, false)), true
}

// queryValue returns the decoded value of the first parameter named key (compared on the
// decoded name), and whether it was present.
func queryValue(params []queryParam, key string) (string, bool) {
	for i := range params {
		if params[i].rawKey == key || decodedEq(params[i].rawKey, key) {
			v, ok := percentDecode(params[i].rawVal, true)
			if !ok {
				return "", true
			}
			return v, true
		}
	}
	return "", false
}

func decodedEq(raw, key string) bool {
	if !strings.ContainsAny(raw, "%+") {
		return false
	}
	d, ok := percentDecode(raw, true)
	return ok && d == key
}

// appendCanonicalQuery sorts params by encoded name then value and appends them joined with
// '&', skipping X-Amz-Signature when skipSignature (presigned URLs sign everything but it).
func appendCanonicalQuery(dst []byte, params []queryParam, skipSignature bool) []byte {
	slices.SortFunc(params, func(a, b queryParam) int {
		if c := strings.Compare(a.encKey, b.encKey); c != 0 {
			return c
		}
		return strings.Compare(a.encVal, b.encVal)
	})
	first := true
	for i := range params {
		p := &params[i]
		if skipSignature && p.encKey == "X-Amz-Signature" {
			continue
		}
		if !first {
			dst = append(dst, '&')
		}
		first = false
		dst = append(dst, p.encKey...)
		dst = append(dst, '=')
		dst = append(dst, p.encVal...)
	}
	return dst
}

// rawPath returns the request path exactly as the client escaped it. r.URL.Path is decoded
// (it turns %2F into '/'), so it cannot be used; RequestURI is what came on the wire.
func rawPath(r *http.Request) string {
	p := r.RequestURI
	if p != "" && p[0] == '/' {
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		return p
	}
	if r.URL == nil {
		return "/"
	}
	if r.URL.Opaque != "" {
		return r.URL.Opaque
	}
	if p := r.URL.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// alternatePath returns the AWS-encoded form of the decoded path when it differs from the
// path as sent (e.g. a client sent "~" as "%7E" or left "!" unescaped but signed the
// canonical form). Both forms name the same object key, so accepting a signature over either
// cannot make one key pass for another. ok is false when there is no distinct alternative.
func alternatePath(p string) (string, bool) {
	if isCanonicalEncoded(p, true) {
		return "", false
	}
	d, ok := percentDecode(p, false)
	if !ok {
		return "", false
	}
	alt := string(appendURIEncode(nil, d, true))
	return alt, alt != p
}

// appendHeaderValue appends v trimmed of surrounding whitespace with inner runs of spaces
// collapsed to one (SigV4 "Trimall").
func appendHeaderValue(dst []byte, v string) []byte {
	v = strings.TrimSpace(v)
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		dst = append(dst, c)
	}
	return dst
}
