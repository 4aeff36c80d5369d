package s3

import (
	"testing"
)

// TestPutBucketPolicyRefusesInvalidUTF8: a policy that is valid JSON apart
// from a raw 0xFF inside a string is MalformedPolicy and is not stored, even
// when the policy validator would let it through: the bucket record keeps
// text only (issue 9, defect 15).
func TestPutBucketPolicyRefusesInvalidUTF8(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PolicyValidator = func(string, []byte) error { return nil } })
	e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
	for _, bad := range []string{"\xff", "\xc3", "\xed\xa0\x80"} {
		pol := `{"Version":"2012-10-17","Statement":[{"Sid":"` + bad + `","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}]}`
		if r := e.mustDo(t, 400, "AKALICE", "PUT", "/bkt?policy", []byte(pol)); r.errCode() != "MalformedPolicy" {
			t.Errorf("policy holding %q: %s", bad, r.body)
		}
	}
	if r := e.mustDo(t, 404, "AKALICE", "GET", "/bkt?policy", nil); r.errCode() != "NoSuchBucketPolicy" {
		t.Errorf("a refused policy was stored: %s", r.body)
	}
}
