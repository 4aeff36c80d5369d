package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// runCLI runs the s3fed command tree in process.
func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errb.String(), err
}

func TestPolicyCLIOffline(t *testing.T) {
	seed := "../../internal/policy/testdata/seed-policy-adapted.json"
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"version":"v2","name":"x","statements":[{"name":"","effect":"allow","actions":[],"resources":["/x"],"principals":["role/*"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, "policy", "validate", seed); err != nil {
		t.Fatalf("valid seed policy refused: %v", err)
	}
	_, stderr, err := runCLI(t, "policy", "validate", bad)
	var ee exitError
	if !errors.As(err, &ee) || ee.code == 0 {
		t.Fatalf("invalid policy accepted: %v", err)
	}
	if !bytes.Contains([]byte(stderr), []byte("6 problems")) {
		t.Fatalf("problems not all listed: %q", stderr)
	}
	tests := []struct {
		role, action, resource, decision, statement string
	}{
		{"reader-role", "s3:ListBucket", "test-bucket", "Allow", "object-reader-allow"},
		{"writer-role", "s3:PutBucketPolicy", "test-bucket", "Deny", "object-writer-deny"},
		{"reader-role", "s3:PutObject", "test-bucket/k", "Deny", ""},
	}
	for _, tc := range tests {
		out, _, err := runCLI(t, "policy", "simulate", "--policy", seed, "--role", tc.role, "--action", tc.action, "--resource", tc.resource)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Decision   string
			Statements []struct{ Statement string }
		}
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatalf("simulate output: %v: %q", err, out)
		}
		got := ""
		if len(d.Statements) > 0 {
			got = d.Statements[0].Statement
		}
		if d.Decision != tc.decision || got != tc.statement {
			t.Errorf("%s %s %s: %s by %q, want %s by %q", tc.role, tc.action, tc.resource, d.Decision, got, tc.decision, tc.statement)
		}
	}
}
