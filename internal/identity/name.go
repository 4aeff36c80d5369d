package identity

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// CheckName is the one character rule for every principal name, subject,
// role and group that enters s3fed, from an IdP through a mapping or from an
// admin through the API. These names are what the audit log, the key
// inventory, the console and policies show and compare, so a character that
// renders as nothing, or that changes how the text around it renders, would
// let one name look like another: "saml/alice" followed by U+202E RIGHT-TO-
// LEFT OVERRIDE and a reversed suffix reads as someone else's name in a log.
//
// Refused, reported as a *NameError at the first offending byte:
//   - bytes that are not valid UTF-8;
//   - control characters (Cc: C0, DEL, C1), including TAB, CR and LF;
//   - format characters (Cf): bidi controls (U+202A..U+202E,
//     U+2066..U+2069, U+200E, U+200F, U+061C), zero-width characters
//     (U+200B..U+200D, U+2060, U+FEFF), soft hyphen, tags, and the rest;
//     ZWJ and ZWNJ included, although some scripts use them, because they
//     make two names differ invisibly;
//   - line and paragraph separators (Zl, Zp: U+2028, U+2029), which some
//     viewers render as a line break and so can forge a log line;
//   - space separators other than U+0020 (Zs: U+00A0, U+2000..U+200A,
//     U+3000, ...), which look like a plain space;
//   - other default-ignorable code points, which render as nothing
//     (variation selectors, Hangul fillers, combining grapheme joiner);
//   - private-use characters (Co), which have no standard glyph;
//   - unassigned code points and noncharacters (Cn) in the Unicode version
//     Go's tables hold (unicode.Version): a later version may assign them
//     as format characters, and today they render as a box.
//
// Everything else, including ASCII space, punctuation, combining marks and
// letters of every script, is allowed. Look-alike letters of different
// scripts (Latin "a" and Cyrillic "а") are visible and not refused: that is
// a confusables question (Unicode TS #39), not an invisibility one.
func CheckName(s string) error {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return &NameError{Offset: i, Invalid: true, Byte: s[i]}
		}
		if kind := refusedKind(r); kind != "" {
			return &NameError{Offset: i, Rune: r, Kind: kind}
		}
		i += size
	}
	return nil
}

// NameError says where a name breaks CheckName's rule and why, so that the
// org admin can find the character in the IdP's or their own data.
type NameError struct {
	// Offset is the byte offset of the character in the checked string.
	Offset int
	// Rune is the refused character (when Invalid is false).
	Rune rune
	// Invalid is set for a byte that is not valid UTF-8; Byte is it.
	Invalid bool
	Byte    byte
	// Kind says which class of refused characters Rune belongs to.
	Kind string
}

// Error reads e.g. "byte 5: U+202E RIGHT-TO-LEFT OVERRIDE, a format
// character (invisible, or reorders the text around it)".
func (e *NameError) Error() string {
	if e.Invalid {
		return fmt.Sprintf("byte %d: 0x%02X is not valid UTF-8", e.Offset, e.Byte)
	}
	return fmt.Sprintf("byte %d: %s, %s", e.Offset, RuneName(e.Rune), e.Kind)
}

func refusedKind(r rune) string {
	switch {
	case r == ' ':
		return ""
	case unicode.Is(unicode.Cc, r):
		return "a control character"
	case unicode.Is(unicode.Cf, r):
		return "a format character (invisible, or reorders the text around it)"
	case unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
		return "a line or paragraph separator"
	case unicode.Is(unicode.Zs, r):
		return "a space other than U+0020, which looks like one"
	case unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r), unicode.Is(unicode.Variation_Selector, r):
		return "a default-ignorable character (renders as nothing)"
	case unicode.Is(unicode.Co, r):
		return "a private-use character (no standard glyph)"
	case unicode.Is(unicode.Noncharacter_Code_Point, r):
		return "a noncharacter"
	case unicode.Is(unicode.C, r): // what is left of C: unassigned (Cn) and surrogates (Cs)
		return "unassigned in Unicode " + unicode.Version
	}
	return ""
}

// RuneName writes r as "U+202E RIGHT-TO-LEFT OVERRIDE" when its name is one
// of the characters most used to disguise text, else as "U+E0041".
func RuneName(r rune) string {
	if n := runeNames[r]; n != "" {
		return fmt.Sprintf("%U %s", r, n)
	}
	if r >= 0xFE00 && r <= 0xFE0F {
		return fmt.Sprintf("%U VARIATION SELECTOR-%d", r, r-0xFE00+1)
	}
	return fmt.Sprintf("%U", r)
}

// runeNames holds the Unicode names (or, for controls, the usual aliases) of
// the refused characters an admin is most likely to meet; the standard
// library has no name table and the rest are rare enough to go by number.
var runeNames = map[rune]string{
	0x0000: "NULL", 0x0009: "CHARACTER TABULATION", 0x000A: "LINE FEED", 0x000B: "LINE TABULATION",
	0x000C: "FORM FEED", 0x000D: "CARRIAGE RETURN", 0x001B: "ESCAPE", 0x007F: "DELETE", 0x0085: "NEXT LINE",
	0x00A0: "NO-BREAK SPACE", 0x00AD: "SOFT HYPHEN", 0x034F: "COMBINING GRAPHEME JOINER",
	0x061C: "ARABIC LETTER MARK", 0x115F: "HANGUL CHOSEONG FILLER", 0x1160: "HANGUL JUNGSEONG FILLER",
	0x1680: "OGHAM SPACE MARK", 0x180E: "MONGOLIAN VOWEL SEPARATOR",
	0x2000: "EN QUAD", 0x2001: "EM QUAD", 0x2002: "EN SPACE", 0x2003: "EM SPACE",
	0x2004: "THREE-PER-EM SPACE", 0x2005: "FOUR-PER-EM SPACE", 0x2006: "SIX-PER-EM SPACE",
	0x2007: "FIGURE SPACE", 0x2008: "PUNCTUATION SPACE", 0x2009: "THIN SPACE", 0x200A: "HAIR SPACE",
	0x200B: "ZERO WIDTH SPACE", 0x200C: "ZERO WIDTH NON-JOINER", 0x200D: "ZERO WIDTH JOINER",
	0x200E: "LEFT-TO-RIGHT MARK", 0x200F: "RIGHT-TO-LEFT MARK",
	0x2028: "LINE SEPARATOR", 0x2029: "PARAGRAPH SEPARATOR",
	0x202A: "LEFT-TO-RIGHT EMBEDDING", 0x202B: "RIGHT-TO-LEFT EMBEDDING", 0x202C: "POP DIRECTIONAL FORMATTING",
	0x202D: "LEFT-TO-RIGHT OVERRIDE", 0x202E: "RIGHT-TO-LEFT OVERRIDE", 0x202F: "NARROW NO-BREAK SPACE",
	0x205F: "MEDIUM MATHEMATICAL SPACE", 0x2060: "WORD JOINER", 0x2061: "FUNCTION APPLICATION",
	0x2062: "INVISIBLE TIMES", 0x2063: "INVISIBLE SEPARATOR", 0x2064: "INVISIBLE PLUS",
	0x2066: "LEFT-TO-RIGHT ISOLATE", 0x2067: "RIGHT-TO-LEFT ISOLATE", 0x2068: "FIRST STRONG ISOLATE",
	0x2069: "POP DIRECTIONAL ISOLATE", 0x3000: "IDEOGRAPHIC SPACE", 0x3164: "HANGUL FILLER",
	0xFEFF: "ZERO WIDTH NO-BREAK SPACE", 0xFFA0: "HALFWIDTH HANGUL FILLER",
	0xFFF9: "INTERLINEAR ANNOTATION ANCHOR", 0xFFFA: "INTERLINEAR ANNOTATION SEPARATOR",
	0xFFFB: "INTERLINEAR ANNOTATION TERMINATOR", 0xE0001: "LANGUAGE TAG",
}
