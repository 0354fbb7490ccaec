//go:build unix

package hlr_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process has used (user and system). A
// benchmark reports it per operation beside ns/op: on a shared machine the
// wall time of a parallel benchmark also counts the time its goroutines
// waited for a CPU.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
