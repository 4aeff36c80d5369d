package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/s3fed/s3fed/internal/policy"
)

// TestParsersRefuseInvalidUTF8: a document that is not UTF-8 is malformed
// JSON (RFC 8259 §8.1), even when every byte outside the strings is fine:
// json.Valid accepts a raw 0xFF inside a string, encoding/json then reads
// it as U+FFFD, and the stored bytes differ from the document that was
// checked (issue 9, defect 15: PostgreSQL refused the write, a 500).
func TestParsersRefuseInvalidUTF8(t *testing.T) {
	org := `{"version":"v1alpha1","name":"p","statements":[{"name":"s","effect":"Allow","actions":["*"],"resources":["b/k` + "%s" + `"],"principals":["*"]}]}`
	bucket := `{"Version":"2012-10-17","Statement":[{"Sid":"s` + "%s" + `","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bk/*"}]}`
	for _, bad := range []string{"\xff", "\xc3", "\xed\xa0\x80", "\xc0\x80"} {
		_, err := policy.ParseDocument([]byte(strings.Replace(org, "%s", bad, 1)))
		if !errors.Is(err, policy.ErrInvalidJSON) || !strings.Contains(err.Error(), "UTF-8") {
			t.Errorf("access policy holding %q: %v, want ErrInvalidJSON naming UTF-8", bad, err)
		}
		_, err = policy.ParseBucketPolicy([]byte(strings.Replace(bucket, "%s", bad, 1)), "bk")
		if !errors.Is(err, policy.ErrInvalidJSON) || !strings.Contains(err.Error(), "UTF-8") {
			t.Errorf("bucket policy holding %q: %v, want ErrInvalidJSON naming UTF-8", bad, err)
		}
	}
	// The same documents with valid text parse.
	if _, err := policy.ParseDocument([]byte(strings.Replace(org, "%s", "é😀", 1))); err != nil {
		t.Fatalf("valid access policy: %v", err)
	}
	if _, err := policy.ParseBucketPolicy([]byte(strings.Replace(bucket, "%s", "é", 1)), "bk"); err != nil {
		t.Fatalf("valid bucket policy: %v", err)
	}
}
