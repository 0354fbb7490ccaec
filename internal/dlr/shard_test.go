package dlr

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// accountsOnShards returns n account names that the dispatcher puts on n
// different shards.
func accountsOnShards(t *testing.T, d *Dispatcher, n int) []string {
	t.Helper()
	seen := map[*shard]bool{}
	var out []string
	for i := 0; len(out) < n && i < 1000; i++ {
		sys := fmt.Sprintf("acct%d", i)
		if s := d.shardOf(sys); !seen[s] {
			seen[s] = true
			out = append(out, sys)
		}
	}
	if len(out) < n {
		t.Fatalf("no %d accounts on different shards", n)
	}
	return out
}

func TestShardOfIsStable(t *testing.T) {
	d := NewDispatcher(Options{Queue: NewMemoryQueue(MemoryOptions{}), Sender: newFakeSender(), Shards: 8})
	tests := []struct {
		name   string
		shards int
	}{{"one shard", 1}, {"eight shards", 8}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Two dispatchers (two processes, or one restarted) put an
			// account on the same shard: the hash is fixed, not seeded.
			d := NewDispatcher(Options{Queue: NewMemoryQueue(MemoryOptions{}), Sender: newFakeSender(), Shards: tt.shards})
			d2 := NewDispatcher(Options{Queue: NewMemoryQueue(MemoryOptions{}), Sender: newFakeSender(), Shards: tt.shards})
			if got := len(d.shards); got != tt.shards {
				t.Fatalf("%d shards, want %d", got, tt.shards)
			}
			for i := range 100 {
				sys := fmt.Sprintf("sys%d", i)
				if a, b := d.shardOf(sys).index, d2.shardOf(sys).index; a != b {
					t.Fatalf("%s on shard %d in one dispatcher, %d in another", sys, a, b)
				}
			}
		})
	}
	used := map[*shard]bool{}
	for i := range 100 {
		used[d.shardOf(fmt.Sprintf("sys%d", i))] = true
	}
	if len(used) < 2 {
		t.Errorf("100 accounts on %d of 8 shards", len(used))
	}
}

// blockingSender holds every Deliver for the account stuck until release
// is closed, as a loop stuck on a slow receiver would be.
type blockingSender struct {
	*fakeSender
	stuck   string
	entered chan struct{}
	release chan struct{}
}

func (b *blockingSender) Deliver(sys string, sm *pdu.DeliverSM, done func(pdu.PDU, error)) error {
	if sys == b.stuck {
		b.entered <- struct{}{}
		<-b.release
	}
	return b.fakeSender.Deliver(sys, sm, done)
}

// Two accounts on different shards: one loop stuck in a Deliver does not
// hold back the other account's receipts.
func TestShardsProgressIndependently(t *testing.T) {
	bs := &blockingSender{fakeSender: newFakeSender(), entered: make(chan struct{}, 1), release: make(chan struct{})}
	h := newHarness(t, NewMemoryQueue(MemoryOptions{}), func(o *Options) { o.Sender = bs })
	accts := accountsOnShards(t, h.d, 2)
	slow, fast := accts[0], accts[1]
	bs.stuck = slow
	h.d.ReceiversChanged(slow, 1)
	h.d.ReceiversChanged(fast, 1)
	h.schedule(receipt("0000000000000E01", slow, 0))
	<-bs.entered // the slow account's loop is inside Deliver
	want := map[string]bool{}
	for i := range 3 {
		r := receipt(fmt.Sprintf("0000000000000E1%d", i), fast, 0)
		want[r.MessageID] = true
		h.schedule(r)
	}
	for range want {
		d := bs.next(t)
		if d.sys != fast || !want[d.id()] {
			t.Fatalf("delivered %s of %s while the other shard is stuck", d.id(), d.sys)
		}
		d.done(pdu.StatusOK, nil)
	}
	close(bs.release)
	if d := bs.next(t); d.sys != slow {
		t.Fatalf("delivered %s of %s, want the stuck account's", d.id(), d.sys)
	} else {
		d.done(pdu.StatusOK, nil)
	}
	h.settle()
	if n := metric(t, h.reg, "dlr_sent_total"); n != 4 {
		t.Errorf("dlr_sent_total = %v, want 4", n)
	}
}

// Receipts of each account reach the sender in due order, also when the
// accounts share the dispatcher's shards and each needs several claims.
func TestShardsKeepOrderWithinAccount(t *testing.T) {
	h := newHarness(t, NewMemoryQueue(MemoryOptions{}), func(o *Options) { o.BatchSize = 3 })
	h.s.setAuto(pdu.StatusOK)
	const accounts, per = 6, 20
	for a := range accounts {
		h.d.ReceiversChanged(fmt.Sprintf("ord%d", a), 1)
	}
	for i := range per { // interleaved puts, due one millisecond apart
		for a := range accounts {
			h.schedule(receipt(fmt.Sprintf("%02X%014X", a, i), fmt.Sprintf("ord%d", a), time.Duration(i)*time.Millisecond))
		}
	}
	h.clk.Advance(time.Second)
	next := map[string]int{}
	for range accounts * per {
		d := h.s.next(t)
		var a, i int
		if _, err := fmt.Sscanf(d.id(), "%02X%014X", &a, &i); err != nil {
			t.Fatalf("id %q: %v", d.id(), err)
		}
		if i != next[d.sys] {
			t.Fatalf("%s: receipt %d sent when %d was next", d.sys, i, next[d.sys])
		}
		next[d.sys]++
	}
	h.settle()
	h.s.none(t)
}

// MaxInFlight bounds all shards together; an answer on one shard lets a
// waiting shard send.
func TestShardsShareMaxInFlight(t *testing.T) {
	h := newHarness(t, NewMemoryQueue(MemoryOptions{}), func(o *Options) { o.MaxInFlight = 1 })
	accts := accountsOnShards(t, h.d, 2)
	h.d.ReceiversChanged(accts[0], 1)
	h.schedule(receipt("0000000000000F01", accts[0], 0))
	first := h.s.next(t)
	h.d.ReceiversChanged(accts[1], 1)
	h.schedule(receipt("0000000000000F02", accts[1], 0))
	h.settle()
	h.s.none(t) // the one deliver_sm allowed is out
	first.done(pdu.StatusOK, nil)
	second := h.s.next(t)
	if second.sys != accts[1] {
		t.Fatalf("delivered %s of %s, want %s's", second.id(), second.sys, accts[1])
	}
	second.done(pdu.StatusOK, nil)
	h.settle()
	if n := h.d.Pending(); n != 0 {
		t.Errorf("Pending = %d, want 0", n)
	}
}

// Drain waits for the answers of every shard and sends what every shard
// has due.
func TestDrainDrainsAllShards(t *testing.T) {
	h := newHarness(t, NewMemoryQueue(MemoryOptions{}), nil)
	accts := accountsOnShards(t, h.d, 3)
	for i, sys := range accts {
		h.d.ReceiversChanged(sys, 1)
		h.schedule(receipt(fmt.Sprintf("00000000000010%02X", i), sys, 0))
	}
	var waiting []delivery
	for range accts {
		waiting = append(waiting, h.s.next(t)) // in flight, not answered yet
	}
	for i, sys := range accts { // due now, still to be sent by the Drain
		h.schedule(receipt(fmt.Sprintf("00000000000011%02X", i), sys, 0))
	}
	res := make(chan int)
	go func() { res <- h.d.Drain(context.Background()) }()
	for _, d := range waiting {
		select {
		case n := <-res:
			t.Fatalf("Drain returned %d before every answer", n)
		default:
		}
		d.done(pdu.StatusOK, nil)
	}
	for range accts {
		h.s.next(t).done(pdu.StatusOK, nil)
	}
	if n := <-res; n != 0 {
		t.Errorf("Drain = %d, want 0", n)
	}
	if n := metric(t, h.reg, "dlr_sent_total"); n != float64(2*len(accts)) {
		t.Errorf("dlr_sent_total = %v, want %d", n, 2*len(accts))
	}
}
