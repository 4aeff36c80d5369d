package sigv4

import (
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Algorithm names (AWS SigV4 and SigV4a).
const (
	algoSigV4  = "AWS4-HMAC-SHA256"
	algoSigV4a = "AWS4-ECDSA-P256-SHA256"
)

// Limits on what a client may send in the authentication parts of a request. They are far
// above what any SDK sends and keep a hostile request from costing more than a few
// kilobytes of work before it is refused.
const (
	// MaxAuthorizationLen bounds the Authorization header and each presigned query value.
	MaxAuthorizationLen = 16 << 10
	// MaxSignedHeaders bounds the number of names in SignedHeaders.
	MaxSignedHeaders = 256
	// MaxPresignExpires is the longest X-Amz-Expires AWS accepts: seven days.
	MaxPresignExpires = 604800
)

const amzDateLayout = "20060102T150405Z"

// credentialScope is the parsed Credential= value: AKID/DATE/REGION/SERVICE/aws4_request.
type credentialScope struct {
	accessKeyID string
	scope       string // DATE/REGION/SERVICE/aws4_request, as signed
	date        string // yyyymmdd
	region      string
	service     string
}

// authFields is what the Authorization header (or the presigned query) says about the
// signature, before anything is checked against a credential.
type authFields struct {
	cred          credentialScope
	signedHeaders string
	signature     [32]byte
}

// parseCredential splits AKID/DATE/REGION/SERVICE/aws4_request from the right, so the scope
// is found even if an access key id were to contain '/'.
func parseCredential(s string) (credentialScope, string) {
	var c credentialScope
	i4 := strings.LastIndexByte(s, '/')
	if i4 < 0 || s[i4+1:] != "aws4_request" {
		return c, "the credential must end with /aws4_request"
	}
	i3 := strings.LastIndexByte(s[:i4], '/')
	if i3 < 0 {
		return c, "the credential must be ACCESS-KEY-ID/DATE/REGION/SERVICE/aws4_request"
	}
	i2 := strings.LastIndexByte(s[:i3], '/')
	if i2 < 0 {
		return c, "the credential must be ACCESS-KEY-ID/DATE/REGION/SERVICE/aws4_request"
	}
	i1 := strings.LastIndexByte(s[:i2], '/')
	if i1 <= 0 {
		return c, "the credential must be ACCESS-KEY-ID/DATE/REGION/SERVICE/aws4_request"
	}
	c.accessKeyID = s[:i1]
	c.date = s[i1+1 : i2]
	c.region = s[i2+1 : i3]
	c.service = s[i3+1 : i4]
	c.scope = s[i1+1:]
	if len(c.date) != 8 || !allDigits(c.date) {
		return c, "the credential date must be YYYYMMDD"
	}
	if c.region == "" || c.service == "" {
		return c, "the credential region and service must not be empty"
	}
	for i := 0; i < len(c.accessKeyID); i++ {
		if b := c.accessKeyID[i]; b <= ' ' || b >= 0x7f {
			return c, "the access key id contains invalid characters"
		}
	}
	return c, ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseSignature decodes a 64-digit hex signature.
func parseSignature(s string, out *[32]byte) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.Decode(out[:], []byte(s))
	return err == nil
}

// validSignedHeaders checks the SignedHeaders list: non-empty lower-case names separated by
// ';', at most MaxSignedHeaders of them. The list is signed verbatim, so it is not re-sorted.
func validSignedHeaders(s string) string {
	if s == "" {
		return "SignedHeaders must not be empty"
	}
	n := 1
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ';' {
			if i == start {
				return "SignedHeaders contains an empty header name"
			}
			if i < len(s) {
				n++
			}
			start = i + 1
			continue
		}
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == ':' || ('A' <= c && c <= 'Z') {
			return "SignedHeaders must list lower-case header names separated by ';'"
		}
	}
	if n > MaxSignedHeaders {
		return "SignedHeaders lists more than " + strconv.Itoa(MaxSignedHeaders) + " headers"
	}
	return ""
}

// signedHeaderHas reports whether the ';'-separated list contains name.
func signedHeaderHas(list, name string) bool {
	for list != "" {
		var h string
		h, list, _ = strings.Cut(list, ";")
		if h == name {
			return true
		}
	}
	return false
}

// parseAuthorization parses an Authorization header value of the SigV4 form
//
//	AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=HEX
//
// (AWS SigV4 "Add the signature to the HTTP request"). It refuses SigV2 and SigV4a with the
// codes S3 uses and never panics on arbitrary input.
func parseAuthorization(h string) (authFields, *Error) {
	var a authFields
	if len(h) > MaxAuthorizationLen {
		return a, newErr(CodeAuthorizationHeaderMalformed, "the Authorization header is too long", nil)
	}
	algo, rest, _ := strings.Cut(h, " ")
	switch algo {
	case algoSigV4:
	case algoSigV4a:
		return a, newErr(CodeNotImplemented, "SigV4a (AWS4-ECDSA-P256-SHA256) signatures are not supported; sign with SigV4 (AWS4-HMAC-SHA256)", nil)
	case "AWS":
		return a, newErr(CodeAccessDenied, "Signature Version 2 is not supported; sign requests with Signature Version 4 (AWS4-HMAC-SHA256)", nil)
	default:
		return a, newErr(CodeAuthorizationHeaderMalformed, "unsupported authorization type; expected AWS4-HMAC-SHA256", nil)
	}
	var haveCred, haveSH, haveSig bool
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return a, newErr(CodeAuthorizationHeaderMalformed, "the Authorization header component "+strconv.Quote(trunc(part))+" is not NAME=VALUE", nil)
		}
		switch k {
		case "Credential":
			if haveCred {
				return a, newErr(CodeAuthorizationHeaderMalformed, "Credential appears twice in the Authorization header", nil)
			}
			haveCred = true
			c, msg := parseCredential(v)
			if msg != "" {
				return a, newErr(CodeAuthorizationHeaderMalformed, msg, nil)
			}
			a.cred = c
		case "SignedHeaders":
			if haveSH {
				return a, newErr(CodeAuthorizationHeaderMalformed, "SignedHeaders appears twice in the Authorization header", nil)
			}
			haveSH = true
			if msg := validSignedHeaders(v); msg != "" {
				return a, newErr(CodeAuthorizationHeaderMalformed, msg, nil)
			}
			a.signedHeaders = v
		case "Signature":
			if haveSig {
				return a, newErr(CodeAuthorizationHeaderMalformed, "Signature appears twice in the Authorization header", nil)
			}
			haveSig = true
			if !parseSignature(v, &a.signature) {
				return a, newErr(CodeAuthorizationHeaderMalformed, "the Signature must be 64 hexadecimal digits", nil)
			}
		default:
			return a, newErr(CodeAuthorizationHeaderMalformed, "unknown Authorization header component "+strconv.Quote(trunc(k)), nil)
		}
	}
	switch {
	case !haveCred:
		return a, newErr(CodeAuthorizationHeaderMalformed, "the Authorization header lacks Credential", nil)
	case !haveSH:
		return a, newErr(CodeAuthorizationHeaderMalformed, "the Authorization header lacks SignedHeaders", nil)
	case !haveSig:
		return a, newErr(CodeAuthorizationHeaderMalformed, "the Authorization header lacks Signature", nil)
	}
	return a, nil
}

// trunc shortens client-supplied text quoted back in an error message.
func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// parseAmzDate parses the ISO 8601 basic timestamp SigV4 signs (20060102T150405Z). It is
// hand-written because time.Parse is a measurable share of Verify on the hot path.
func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != len(amzDateLayout) || s[8] != 'T' || s[15] != 'Z' || !allDigits(s[:8]) || !allDigits(s[9:15]) {
		return time.Time{}, false
	}
	num := func(a, b int) int {
		n := 0
		for i := a; i < b; i++ {
			n = n*10 + int(s[i]-'0')
		}
		return n
	}
	y, mo, d := num(0, 4), num(4, 6), num(6, 8)
	h, mi, se := num(9, 11), num(11, 13), num(13, 15)
	if mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, se, 0, time.UTC)
	if t.Day() != d { // 20260231 normalises to March: refuse it
		return time.Time{}, false
	}
	return t, true
}
