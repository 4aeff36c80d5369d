package policy

import (
	"strings"
	"unicode/utf8"
)

// globMatch reports whether s matches pattern, where '*' matches any run of
// characters (possibly empty, '/' included, as in IAM) and '?' exactly one
// character (one UTF-8 sequence, or one byte of invalid UTF-8). With fold,
// ASCII letters compare case-insensitively; other bytes compare exactly.
//
// It is the classic backtracking-to-the-last-star algorithm: no recursion,
// no allocation, O(len(pattern)*len(s)) in the worst case and linear for the
// patterns policies use.
func globMatch(pattern, s string, fold bool) bool {
	px, sx := 0, 0
	starPx, starSx := -1, -1
	for px < len(pattern) || sx < len(s) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				// Try the empty run first; remember where to resume.
				starPx, starSx = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					px++
					sx += runeLen(s, sx)
					continue
				}
			default:
				if sx < len(s) && byteEq(c, s[sx], fold) {
					px++
					sx++
					continue
				}
			}
		}
		// Mismatch: let the last star swallow one more character.
		if starPx >= 0 && starSx < len(s) {
			starSx += runeLen(s, starSx)
			px, sx = starPx+1, starSx
			continue
		}
		return false
	}
	return true
}

// runeLen is the length of the UTF-8 sequence at s[i] (1 for invalid bytes).
func runeLen(s string, i int) int {
	if s[i] < utf8.RuneSelf {
		return 1
	}
	_, n := utf8.DecodeRuneInString(s[i:])
	return n
}

// byteEq compares two bytes, folding ASCII case when asked.
func byteEq(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	return lowerASCII(a) == lowerASCII(b)
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// toLowerASCII lowercases ASCII letters only, so that action matching does
// not depend on Unicode tables (S3 action names are ASCII).
func toLowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}

// hasPrefixFold is strings.HasPrefix with ASCII case folding; prefix must
// already be lowercase.
func hasPrefixFold(s, lowerPrefix string) bool {
	if len(s) < len(lowerPrefix) {
		return false
	}
	for i := 0; i < len(lowerPrefix); i++ {
		if lowerASCII(s[i]) != lowerPrefix[i] {
			return false
		}
	}
	return true
}

// equalFold is ASCII-only case-insensitive equality; lower must already be
// lowercase.
func equalFold(s, lower string) bool {
	return len(s) == len(lower) && hasPrefixFold(s, lower)
}

// matchKind selects the fastest correct comparison for a pattern.
type matchKind uint8

const (
	matchExact  matchKind = iota // no wildcard: equality
	matchPrefix                  // literal followed by one trailing '*'
	matchSuffix                  // one leading '*' followed by a literal
	matchAll                     // only '*': matches everything
	matchGlob                    // anything else
)

// pattern is a compiled wildcard pattern.
type pattern struct {
	kind matchKind
	fold bool
	text string // lowercased when fold; for matchPrefix the literal part
}

// compilePattern classifies p; with fold it is matched case-insensitively.
func compilePattern(p string, fold bool) pattern {
	if fold {
		p = toLowerASCII(p)
	}
	switch i := strings.IndexAny(p, "*?"); {
	case i < 0:
		return pattern{kind: matchExact, fold: fold, text: p}
	case strings.Trim(p, "*") == "":
		return pattern{kind: matchAll, fold: fold, text: p}
	case i == len(p)-1 && p[i] == '*':
		return pattern{kind: matchPrefix, fold: fold, text: p[:i]}
	case i == 0 && p[0] == '*' && !strings.ContainsAny(p[1:], "*?"):
		return pattern{kind: matchSuffix, fold: fold, text: p[1:]}
	default:
		return pattern{kind: matchGlob, fold: fold, text: p}
	}
}

// match reports whether s matches the pattern.
func (p *pattern) match(s string) bool {
	switch p.kind {
	case matchExact:
		if p.fold {
			return equalFold(s, p.text)
		}
		return s == p.text
	case matchPrefix:
		if p.fold {
			return hasPrefixFold(s, p.text)
		}
		return strings.HasPrefix(s, p.text)
	case matchSuffix:
		if len(s) < len(p.text) {
			return false
		}
		if p.fold {
			return equalFold(s[len(s)-len(p.text):], p.text)
		}
		return strings.HasSuffix(s, p.text)
	case matchAll:
		return true
	default:
		return globMatch(p.text, s, p.fold)
	}
}

// isGlobalResource reports whether a request resource denotes no bucket at
// all (global actions such as s3:ListAllMyBuckets): "*" or empty.
func isGlobalResource(res string) bool {
	return res == "*" || res == ""
}

// matchResource applies IAM's resource rule: a global request is matched only
// by a pattern made solely of '*'; anything else is a case-sensitive glob.
func (p *pattern) matchResource(res string, global bool) bool {
	if global {
		return p.kind == matchAll
	}
	return p.match(res)
}
