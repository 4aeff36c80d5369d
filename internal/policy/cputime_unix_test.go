//go:build unix

package policy

import (
	"syscall"
	"time"
)

// processCPUTime is the user+system CPU time of the test process. The
// benchmarks report it per operation next to wall time, because on a shared
// machine wall time mostly measures the neighbours.
func processCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
