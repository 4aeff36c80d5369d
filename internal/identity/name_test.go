package identity_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/s3fed/s3fed/internal/identity"
)

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" = accepted, else the exact error
	}{
		{"ascii email", "alice@example.com", ""},
		{"space", "Alice Smith", ""},
		{"punctuation", "svc-data_ingest+x=1,y.z/@~!#$%^&*()[]{}|\\:;\"'<>?`", ""},
		{"accented", "José.Müller@bücher.example", ""},
		{"combining mark", "e\u0301", ""},
		{"cjk", "山田太郎", ""},
		{"arabic letters", "مرحبا", ""}, // right-to-left letters are visible text
		{"cyrillic", "аlice", ""},       // a look-alike, visible: not this rule's business
		{"emoji", "🦀", ""},
		{"empty", "", ""},

		{"rlo", "alice\u202Eexample", "byte 5: U+202E RIGHT-TO-LEFT OVERRIDE, a format character (invisible, or reorders the text around it)"},
		{"lro", "\u202Dx", "byte 0: U+202D LEFT-TO-RIGHT OVERRIDE, a format character (invisible, or reorders the text around it)"},
		{"rli", "a\u2067b", "byte 1: U+2067 RIGHT-TO-LEFT ISOLATE, a format character (invisible, or reorders the text around it)"},
		{"lri", "a\u2066", "byte 1: U+2066 LEFT-TO-RIGHT ISOLATE, a format character (invisible, or reorders the text around it)"},
		{"fsi", "a\u2068", "byte 1: U+2068 FIRST STRONG ISOLATE, a format character (invisible, or reorders the text around it)"},
		{"pdi", "a\u2069", "byte 1: U+2069 POP DIRECTIONAL ISOLATE, a format character (invisible, or reorders the text around it)"},
		{"rlm", "é\u200F", "byte 2: U+200F RIGHT-TO-LEFT MARK, a format character (invisible, or reorders the text around it)"},
		{"alm", "x\u061C", "byte 1: U+061C ARABIC LETTER MARK, a format character (invisible, or reorders the text around it)"},
		{"zwsp", "ali\u200Bce", "byte 3: U+200B ZERO WIDTH SPACE, a format character (invisible, or reorders the text around it)"},
		{"zwj", "a\u200Db", "byte 1: U+200D ZERO WIDTH JOINER, a format character (invisible, or reorders the text around it)"},
		{"word joiner", "a\u2060b", "byte 1: U+2060 WORD JOINER, a format character (invisible, or reorders the text around it)"},
		{"bom", "\uFEFFalice", "byte 0: U+FEFF ZERO WIDTH NO-BREAK SPACE, a format character (invisible, or reorders the text around it)"},
		{"soft hyphen", "al\u00ADice", "byte 2: U+00AD SOFT HYPHEN, a format character (invisible, or reorders the text around it)"},
		{"tag", "a\U000E0041", "byte 1: U+E0041, a format character (invisible, or reorders the text around it)"},
		{"nul", "a\x00", "byte 1: U+0000 NULL, a control character"},
		{"tab", "\talice", "byte 0: U+0009 CHARACTER TABULATION, a control character"},
		{"lf", "alice\n", "byte 5: U+000A LINE FEED, a control character"},
		{"del", "a\x7f", "byte 1: U+007F DELETE, a control character"},
		{"c1", "a\u0085", "byte 1: U+0085 NEXT LINE, a control character"},
		{"line separator", "a\u2028b", "byte 1: U+2028 LINE SEPARATOR, a line or paragraph separator"},
		{"paragraph separator", "a\u2029b", "byte 1: U+2029 PARAGRAPH SEPARATOR, a line or paragraph separator"},
		{"nbsp", "Alice\u00A0Smith", "byte 5: U+00A0 NO-BREAK SPACE, a space other than U+0020, which looks like one"},
		{"ideographic space", "山\u3000田", "byte 3: U+3000 IDEOGRAPHIC SPACE, a space other than U+0020, which looks like one"},
		{"hangul filler", "a\u3164", "byte 1: U+3164 HANGUL FILLER, a default-ignorable character (renders as nothing)"},
		{"variation selector", "a\uFE0F", "byte 1: U+FE0F VARIATION SELECTOR-16, a default-ignorable character (renders as nothing)"},
		{"cgj", "a\u034F", "byte 1: U+034F COMBINING GRAPHEME JOINER, a default-ignorable character (renders as nothing)"},
		{"private use", "a\uE000", "byte 1: U+E000, a private-use character (no standard glyph)"},
		{"plane 15 private use", "a\U000F0000", "byte 1: U+F0000, a private-use character (no standard glyph)"},
		{"noncharacter", "a\uFFFF", "byte 1: U+FFFF, a noncharacter"},
		{"noncharacter fdd0", "a\uFDD0", "byte 1: U+FDD0, a noncharacter"},
		{"unassigned", "a\u0378", "byte 1: U+0378, unassigned in Unicode " + unicode.Version},
		{"invalid utf-8", "ab\xffc", "byte 2: 0xFF is not valid UTF-8"},
		{"truncated utf-8", "ab\xe2\x80", "byte 2: 0xE2 is not valid UTF-8"},
		{"encoded surrogate", "a\xed\xa0\x80", "byte 1: 0xED is not valid UTF-8"},
		{"first of several", "a\u202E\u200B", "byte 1: U+202E RIGHT-TO-LEFT OVERRIDE, a format character (invisible, or reorders the text around it)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := identity.CheckName(tt.in)
			got := ""
			if err != nil {
				got = err.Error()
				var ne *identity.NameError
				if !errors.As(err, &ne) {
					t.Fatalf("error %T is not a *NameError", err)
				}
			}
			if got != tt.want {
				t.Fatalf("CheckName(%+q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestCheckNameEveryCodePoint checks the rule over the whole code space:
// every character of the refused classes is refused at its offset, and
// every letter, mark, number, punctuation and symbol is accepted.
func TestCheckNameEveryCodePoint(t *testing.T) {
	refused := []*unicode.RangeTable{unicode.Cc, unicode.Cf, unicode.Co, unicode.Zl, unicode.Zp,
		unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector, unicode.Noncharacter_Code_Point}
	var nRefused, nAllowed int
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue // surrogates cannot be encoded in UTF-8
		}
		s := "x" + string(r)
		err := identity.CheckName(s)
		mustRefuse := unicode.In(r, refused...) || (unicode.Is(unicode.Zs, r) && r != ' ') ||
			!unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.Cc, unicode.Cf, unicode.Co) // unassigned
		switch {
		case mustRefuse && err == nil:
			t.Fatalf("%U accepted", r)
		case mustRefuse:
			var ne *identity.NameError
			if !errors.As(err, &ne) || ne.Offset != 1 || ne.Rune != r {
				t.Fatalf("%U: %v, want a NameError at byte 1", r, err)
			}
			if !strings.HasPrefix(err.Error(), "byte 1: "+identity.RuneName(r)+", ") {
				t.Fatalf("%U: message %q", r, err)
			}
			nRefused++
		case err != nil:
			t.Fatalf("%U (%s) refused: %v", r, string(r), err)
		default:
			nAllowed++
		}
	}
	if !utf8.ValidString("x") || nRefused < 900_000 || nAllowed < 140_000 {
		t.Fatalf("refused %d, allowed %d: the tables look wrong", nRefused, nAllowed)
	}
}

func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"alice", "a\u202Eb", "\xff", "", "山田\u3000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := identity.CheckName(s)
		var ne *identity.NameError
		if err == nil {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 %+q accepted", s)
			}
			return
		}
		if !errors.As(err, &ne) || ne.Offset < 0 || ne.Offset >= len(s) {
			t.Fatalf("%+q: %v", s, err)
		}
		// Everything before the offset passes on its own.
		if err := identity.CheckName(s[:ne.Offset]); err != nil {
			t.Fatalf("%+q: prefix before the reported offset fails too: %v", s, err)
		}
	})
}
