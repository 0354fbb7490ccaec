package gateway

import (
	"runtime"
	"testing"
)

// TestInflightRefusesAddsOnceClosing: closeAndWait waits for the stores in
// flight and refuses new ones (a sync.WaitGroup would be misused there).
func TestInflightRefusesAddsOnceClosing(t *testing.T) {
	var f inflight
	if !f.add() {
		t.Fatal("add refused before closing")
	}
	waited := make(chan struct{})
	go func() { f.closeAndWait(); close(waited) }()
	for {
		f.mu.Lock()
		closed := f.closed
		f.mu.Unlock()
		if closed {
			break
		}
		select {
		case <-waited:
			t.Fatal("closeAndWait returned with a store in flight")
		default:
			runtime.Gosched()
		}
	}
	if f.add() {
		t.Fatal("add accepted after closeAndWait began")
	}
	select {
	case <-waited:
		t.Fatal("closeAndWait returned with a store in flight")
	default:
	}
	f.done()
	<-waited
}
