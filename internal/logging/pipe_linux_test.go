//go:build linux

package logging

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func pipeSize(t *testing.T, f *os.File) int {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n uintptr
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) { n, _, errno = syscall.Syscall(syscall.SYS_FCNTL, fd, fGetPipeSize, 0) }); err != nil || errno != 0 {
		t.Fatalf("F_GETPIPE_SZ: %v %v", err, errno)
	}
	return int(n)
}

// TestGrowPipe: a pipe's buffer grows (the system allows 1 MiB unless an
// administrator lowered it); anything else is left alone.
func TestGrowPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	before := pipeSize(t, w)
	growPipe(w)
	after := pipeSize(t, w)
	if after < before {
		t.Fatalf("pipe shrank from %d to %d", before, after)
	}
	if max, err := os.ReadFile("/proc/sys/fs/pipe-max-size"); err == nil && string(max) == "1048576\n" && after < pipeSizes[len(pipeSizes)-1] {
		t.Errorf("pipe of %d bytes, want at least %d", after, pipeSizes[len(pipeSizes)-1])
	}
	growPipe(w) // again: nothing changes
	if again := pipeSize(t, w); again != after {
		t.Errorf("second growPipe: %d, was %d", again, after)
	}

	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	growPipe(f) // a file: nothing to do, no panic
	growPipe(discardWriter{})
}
