//go:build linux

package logging

import (
	"io"
	"os"
	"syscall"
)

// fcntl commands of <fcntl.h> (not in package syscall).
const (
	fSetPipeSize = 1031 // F_SETPIPE_SZ
	fGetPipeSize = 1032 // F_GETPIPE_SZ
)

// Pipe sizes growPipe asks for, largest first: 1 MiB is the most an
// unprivileged process may ask for by default (/proc/sys/fs/pipe-max-size).
var pipeSizes = [...]int{1 << 20, 256 << 10}

// growPipe makes the kernel's buffer of out larger when out is a pipe (as
// under a container runtime or a log shipper), so that a reader that is
// not scheduled for a few milliseconds does not block the Writer's
// write(2): a 64 KiB pipe holds ~2 ms of the log at INFO under full load,
// and a write that blocks costs the Go runtime a thread hand-off. It
// never shrinks a pipe, and a refusal (a per-user limit) leaves it as it
// was: the log works either way.
func growPipe(out io.Writer) {
	f, ok := out.(*os.File)
	if !ok {
		return
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		cur, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, fGetPipeSize, 0)
		if errno != 0 {
			return
		}
		for _, size := range pipeSizes {
			if int(cur) >= size {
				return
			}
			if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSize, uintptr(size)); errno == 0 {
				return
			}
		}
	})
}
