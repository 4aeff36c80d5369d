package saml

import (
	"fmt"
	"os"
	"testing"
)

// TestMain fails the run if Validate ever had to turn a panic into a refusal: the recover in run
// is a safety net for production, not a way for tests to pass over bugs.
func TestMain(m *testing.M) {
	code := m.Run()
	if n := recoveredPanics.Load(); n != 0 {
		fmt.Fprintf(os.Stderr, "saml: %d panic(s) were recovered during the tests; last: %v\n", n, lastPanic.Load())
		code = 1
	}
	os.Exit(code)
}
