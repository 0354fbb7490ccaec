package dlr

import (
	"context"
	"errors"
	"testing"
	"time"
)

// lenQueue is a memory queue whose Len fails, or hangs until released,
// as the test says.
type lenQueue struct {
	Queue
	fail    chan struct{} // closed: Len fails at once
	entered chan struct{} // a token per Len that hangs
	release chan struct{} // closed: hanging Lens fail
}

func (q *lenQueue) Len(ctx context.Context) (int, error) {
	select {
	case <-q.fail:
		return 0, errors.New("connection refused")
	default:
	}
	q.entered <- struct{}{}
	<-q.release // hangs as a paused Redis does
	return 0, errors.New("i/o timeout")
}

// TestPendingDoesNotWaitForADownQueue: once the queue failed to count,
// Pending (the dlr_pending gauge, run by every scrape of /metrics) answers
// the last count at once and asks again in the background, one call at a
// time; it used to wait out OpTimeout on every scrape while Redis was
// down.
func TestPendingDoesNotWaitForADownQueue(t *testing.T) {
	q := &lenQueue{Queue: NewMemoryQueue(MemoryOptions{}), fail: make(chan struct{}),
		entered: make(chan struct{}, 8), release: make(chan struct{})}
	defer close(q.release)
	d := NewDispatcher(Options{Queue: q, Sender: newFakeSender()})
	close(q.fail)
	if n := d.Pending(); n != 0 {
		t.Fatalf("Pending = %d with the queue down and nothing known", n)
	}
	q.fail = make(chan struct{}) // from now on Len hangs
	answered := make(chan int, 1)
	go func() {
		for range 3 {
			d.Pending()
		}
		answered <- d.Pending()
	}()
	select {
	case n := <-answered:
		if n != 0 {
			t.Fatalf("Pending = %d, want the last known count", n)
		}
	case <-time.After(10 * time.Second): // guards against a hang only
		t.Fatal("Pending waited for a queue that does not answer")
	}
	<-q.entered // the background call
	if len(q.entered) != 0 {
		t.Fatal("a second background count while one is waiting")
	}
}
