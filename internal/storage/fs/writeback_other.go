//go:build !linux || arm

package fs

import "os"

// startWriteback is a no-op where sync_file_range is not available (or, on
// 32-bit ARM, has another calling convention): the checkpoint's fsync then
// writes everything itself.
func startWriteback(f *os.File) {}
