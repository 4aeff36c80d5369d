package policy

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
	"unicode/utf8"
)

// FuzzParseDocument: any input yields a document or an error, never a panic;
// an accepted document round-trips through Marshal and compiles.
func FuzzParseDocument(f *testing.F) {
	for _, name := range []string{"seed-policy.json", "seed-policy-adapted.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"version":"v1alpha1","name":"a","statements":[{"name":"s","effect":"Deny","actions":["s3:?et*"],"resources":["b*/k?"],"principals":["attribute/k/v/w"]}]}`))
	f.Add([]byte(`{"version":"v1alpha1","version":"x","statements":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := ParseDocument(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) && !errors.Is(err, ErrInvalidJSON) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			if ve != nil && len(ve.Problems) == 0 {
				t.Fatal("ValidationError without problems")
			}
			return
		}
		out, err := Marshal(doc)
		if err != nil {
			t.Fatalf("marshal accepted document: %v", err)
		}
		back, err := ParseDocument(out)
		if err != nil || !reflect.DeepEqual(doc, back) {
			t.Fatalf("round trip: %v\n%s", err, out)
		}
		e, err := Compile("o", []*Document{doc})
		if err != nil {
			t.Fatalf("compile accepted document: %v", err)
		}
		req := Request{OrgID: "o", Role: "r", Action: "s3:GetObject", Resource: "b/k"}
		if d, x := e.Decide(req), e.Explain(req); d.Effect != x.Effect {
			t.Fatalf("Decide %v, Explain %v", d, x.Decision)
		}
	})
}

// FuzzParseBucketPolicy: never a panic, only the two error kinds.
func FuzzParseBucketPolicy(f *testing.F) {
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::o:root"]},"Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Bool":{"aws:SecureTransport":true}}}]}`))
	f.Add([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":["s3:Get*"],"Resource":["arn:aws:s3:::b"]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		bp, err := ParseBucketPolicy(data, "b")
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) && !errors.Is(err, ErrInvalidJSON) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		_ = bp.Evaluate(Request{OrgID: "o", Action: "s3:ListBucket", Resource: "b"}, BucketContext{Prefix: "p"}, "o")
	})
}

// FuzzGlobMatch cross-checks the matcher with regular expressions.
func FuzzGlobMatch(f *testing.F) {
	f.Add("a*b?c", "aXXbYc", false)
	f.Add("S3:Get*", "s3:getobject", true)
	f.Add("*?*", "é", false)
	ref := &refEvaluator{re: map[refKey]*regexp.Regexp{}}
	f.Fuzz(func(t *testing.T, pattern, s string, fold bool) {
		if len(pattern) > 64 || len(s) > 256 {
			return
		}
		// regexp reads every invalid UTF-8 byte as U+FFFD, so two different
		// invalid bytes would "match"; the matcher compares bytes. Compare
		// on valid UTF-8 only (S3 keys are UTF-8).
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return
		}
		p := compilePattern(pattern, fold)
		want := ref.glob(pattern, s, fold)
		if fold {
			// regexp's (?i) folds non-ASCII letters too; the matcher folds
			// ASCII only, so compare on ASCII inputs.
			for _, r := range pattern + s {
				if r >= 0x80 {
					return
				}
			}
		}
		if got := globMatch(pattern, s, fold); got != want {
			t.Fatalf("globMatch(%q, %q, %v) = %v, want %v", pattern, s, fold, got, want)
		}
		if got := p.match(s); got != want {
			t.Fatalf("compiled %q on %q = %v, want %v", pattern, s, got, want)
		}
	})
}
