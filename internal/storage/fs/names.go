package fs

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/s3fed/s3fed/internal/storage"
)

// ValidBucketName reports whether name follows S3's general-purpose bucket
// naming rules, and why not: 3–63 characters of lower-case letters, digits,
// dots and hyphens; starting and ending with a letter or digit; no two
// adjacent dots; not formatted as an IPv4 address; and none of the prefixes
// and suffixes AWS reserves ("xn--", "sthree-", "amzn-s3-demo-", "-s3alias",
// "--ol-s3", ".mrap", "--x-s3", "--table-s3"). Following AWS exactly means a
// bucket created here can be mirrored to AWS and virtual-hosted addressing
// always yields a valid DNS label sequence.
func ValidBucketName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %q %s", storage.ErrInvalidBucketName, name, why)
	}
	if len(name) < 3 || len(name) > 63 {
		return bad("must be 3 to 63 characters long")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return bad("may contain only lower-case letters, digits, dots and hyphens")
		}
	}
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return bad("must begin and end with a letter or digit")
	}
	if strings.Contains(name, "..") {
		return bad("must not contain two adjacent dots")
	}
	if looksLikeIPv4(name) {
		return bad("must not be formatted as an IP address")
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return bad("must not start with the reserved prefix " + p)
		}
	}
	for _, sfx := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, sfx) {
			return bad("must not end with the reserved suffix " + sfx)
		}
	}
	return nil
}

// looksLikeIPv4 reports whether name is four dot-separated groups of one to
// three digits ("192.168.5.4", and also "192.168.05.4" or "999.1.1.1",
// which S3 refuses all the same). It allocates nothing: it runs on every
// request.
func looksLikeIPv4(name string) bool {
	groups, digits := 1, 0
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= '0' && c <= '9':
			digits++
			if digits > 3 {
				return false
			}
		case c == '.':
			if digits == 0 {
				return false
			}
			groups++
			digits = 0
		default:
			return false
		}
	}
	return groups == 4 && digits > 0
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// ValidObjectKey reports whether key is a key S3 accepts: 1 to 1024 bytes of
// valid UTF-8. Any character is allowed, including "/", "//", "..", a leading
// "/" and control characters, because keys are index entries here and never
// file names.
func ValidObjectKey(key string) error {
	if len(key) == 0 {
		return fmt.Errorf("%w: empty key", storage.ErrInvalidObjectName)
	}
	if len(key) > MaxKeyLength {
		return fmt.Errorf("%w: key is %d bytes, the limit is %d", storage.ErrInvalidObjectName, len(key), MaxKeyLength)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("%w: key is not valid UTF-8", storage.ErrInvalidObjectName)
	}
	return nil
}
