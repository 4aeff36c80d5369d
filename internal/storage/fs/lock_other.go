//go:build !unix

package fs

import (
	"os"
	"time"
)

// lockFile relies on bbolt's own lock where flock is not available; the
// journal's recovery then runs before that lock is taken, so such
// platforms must not open one directory twice.
func lockFile(f *os.File, timeout time.Duration) error { return nil }
