//go:build unix

package fs

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockFile takes an exclusive advisory lock on f, waiting up to timeout:
// recovery rewrites the index's meta page, which must never happen under a
// store that is still open in another process or Store.
func lockFile(f *os.File, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("fs: locking %s: %w", f.Name(), err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("fs: %s is in use by another store (lock not released within %s)", f.Name(), timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
