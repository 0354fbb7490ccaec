package dlr

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// blackholeRedis accepts connections and never answers: a paused Redis.
func blackholeRedis(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// TestOutcomeRecordsAreBounded: with Redis not answering, outcome records
// of receipt-less messages (nobody waits for them) stop being queued at
// maxWaitingRecords instead of growing without bound.
func TestOutcomeRecordsAreBounded(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: blackholeRedis(t), ReadTimeout: time.Minute, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() }) // fails the blocked commits at once
	q := NewRedisQueue(c, RedisOptions{CommitTimeout: time.Minute})
	o := Outcome{State: pdu.StateDelivered, At: t0}
	// Committers hold at most maxCommitters batches out of the queue.
	limit := maxWaitingRecords + maxCommitters*putBatchMax + 1
	refused := 0
	for i := range limit {
		r := receipt(fmtID(i), "acme", 0)
		q.RecordAsync(o, r, func(err error) {
			if errors.Is(err, ErrRecordBacklog) {
				refused++ // refusals are answered at once, on this goroutine
			}
		})
	}
	if refused == 0 {
		t.Fatalf("%d records queued behind a Redis that never answers, none refused", limit)
	}
	q.put.mu.Lock()
	waiting := q.put.records
	q.put.mu.Unlock()
	if waiting > maxWaitingRecords {
		t.Fatalf("%d records waiting, bound %d", waiting, maxWaitingRecords)
	}
}

func fmtID(i int) string {
	const hex = "0123456789ABCDEF"
	b := []byte("0000000000000000")
	for j := 15; j >= 0 && i > 0; j-- {
		b[j] = hex[i&15]
		i >>= 4
	}
	return string(b)
}
