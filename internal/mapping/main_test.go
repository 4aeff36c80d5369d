package mapping

import (
	"fmt"
	"os"
	"testing"
)

// TestMain fails the run when a panic was turned into a refusal: the
// safety net in Rules.Evaluate must never hide a bug.
func TestMain(m *testing.M) {
	code := m.Run()
	if n := recoveredPanics.Load(); n != 0 {
		fmt.Fprintf(os.Stderr, "mapping: recovered %d panics\n", n)
		code = 1
	}
	os.Exit(code)
}
