package gateway

import (
	"errors"
	"sync"
)

// errClosing answers a submit whose receipt would be stored after Close
// began waiting for the stores in flight.
var errClosing = errors.New("gateway: closing")

// inflight counts receipts being stored, whose submits are answered from
// the store's completion. Unlike a sync.WaitGroup it may be added to while
// closeAndWait runs (a session's reader can still accept a cached answer
// when the server's Shutdown gave up at its deadline): add then reports
// false and the caller answers without storing.
type inflight struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // closed when n drops to 0 after closeAndWait
}

func (f *inflight) add() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.n++
	return true
}

func (f *inflight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 && f.idle != nil {
		close(f.idle)
		f.idle = nil
	}
}

// closeAndWait refuses further adds and returns once every store in
// flight has completed.
func (f *inflight) closeAndWait() {
	f.mu.Lock()
	f.closed = true
	if f.n == 0 {
		f.mu.Unlock()
		return
	}
	idle := make(chan struct{})
	f.idle = idle
	f.mu.Unlock()
	<-idle
}
