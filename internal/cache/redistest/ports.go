package redistest

import (
	"net"
	"sync"
	"testing"
)

// handedOut holds every port FreePort returned in this test process. The
// kernel may hand the same ephemeral port to two listeners opened and
// closed one after the other; a child process given both (one gateway's
// SMPP and metrics ports, say) then fails to start. Shared by the whole
// test binary on purpose: the ports are.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that no earlier call in this process returned.
func FreePort(t testing.TB) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 1000 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
	t.Fatal("free port: the kernel keeps returning ports already handed out")
	return 0
}
