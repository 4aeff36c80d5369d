package main

import (
	"os"
	"testing"
)

// TestMain removes the binary the end-to-end tests built once for the
// whole package (see e2eBinary).
func TestMain(m *testing.M) {
	code := m.Run()
	if e2eBuildDir != "" {
		_ = os.RemoveAll(e2eBuildDir)
	}
	os.Exit(code)
}
