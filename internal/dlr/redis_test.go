package dlr

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

func TestRedisLeaseExpiryHandsOverToAnotherInstance(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	a := NewRedisQueue(c, RedisOptions{Prefix: prefix})
	b := NewRedisQueue(redisTestClient(t), RedisOptions{Prefix: prefix}) // another instance
	ctx := context.Background()
	lease := 30 * time.Second
	if err := a.Put(ctx, receipt("AAAAAAAAAAAAAAA1", "acme", 0)); err != nil {
		t.Fatal(err)
	}
	rs, err := a.Claim(ctx, "acme", t0, lease, 10)
	if err != nil || len(rs) != 1 {
		t.Fatalf("A claimed %v %v", rs, err)
	}
	// A "crashes": no Ack, no Retry.
	tests := []struct {
		at   time.Time
		want int
	}{
		{t0.Add(lease - time.Millisecond), 0},
		{t0.Add(lease), 1},
		{t0.Add(lease + time.Second), 0}, // leased again, by B
	}
	for _, tt := range tests {
		rs, err := b.Claim(ctx, "acme", tt.at, lease, 10)
		if err != nil || len(rs) != tt.want {
			t.Fatalf("B claim at t0+%v = %d receipts (%v), want %d", tt.at.Sub(t0), len(rs), err, tt.want)
		}
	}
}

func TestRedisTwoDispatchersReceiverOnSecond(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	clk := newFakeClock(t0)
	newInstance := func() *harness {
		q := NewRedisQueue(redisTestClient(t), RedisOptions{Prefix: prefix})
		h := newHarness(t, q, func(o *Options) { o.Clock = clk; o.BatchSize = 64 })
		h.clk = clk
		return h
	}
	a, b := newInstance(), newInstance()
	b.s.setAuto(pdu.StatusOK)
	b.d.ReceiversChanged("acme", 1)

	const n = 500
	for i := range n {
		a.schedule(receipt(fmt.Sprintf("%016X", 0xB000+i), "acme", time.Second))
	}
	clk.Advance(time.Second)
	for {
		b.settle()
		if len(b.s.sent) >= n {
			break
		}
		clk.Advance(DefaultPollInterval) // b learns of a's receipts by polling
	}
	a.settle()
	seen := map[string]int{}
	for len(b.s.sent) > 0 {
		d := <-b.s.sent
		seen[d.id()]++
	}
	a.s.none(t)
	if len(seen) != n {
		t.Errorf("%d distinct receipts delivered, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("%s delivered %d times", id, k)
		}
	}
	if pending, _ := b.q.Len(context.Background()); pending != 0 {
		t.Errorf("%d receipts left in Redis", pending)
	}
	if st, _, ok := a.state(fmt.Sprintf("%016X", 0xB000)); !ok || st != pdu.StateDelivered {
		t.Errorf("instance A sees state %v %v, want DELIVERED", st, ok)
	}
}

func TestRedisKeysShareAccountSlot(t *testing.T) {
	q := NewRedisQueue(nil, RedisOptions{Prefix: "p:"})
	tests := []struct{ sys, wantTag string }{
		{"acme", "{acme}"},
		{"a}b", "{x617d62}"},
		{"{x", "{x7b78}"},
	}
	for _, tt := range tests {
		for _, k := range q.accountKeys(tt.sys) {
			if k[len("p:"):len("p:")+len(tt.wantTag)] != tt.wantTag {
				t.Errorf("key %q of %q lacks hash tag %s", k, tt.sys, tt.wantTag)
			}
		}
	}
}

// registry is a fresh registry for tests that need one.
func registry() *prometheus.Registry { return prometheus.NewRegistry() }

// TestAccountTagsNeverCollide: an account whose system_id holds a brace
// has its hash tag escaped; another account named as that escape (or as
// the escape of an escape) gets a tag of its own, so neither reads the
// other's receipts. Plain ids keep their own name as tag.
func TestAccountTagsNeverCollide(t *testing.T) {
	ids := []string{"alice", "{a}", "x7b617d", "x78376236313764", "a}b", "x", "x00", "X7B617D", "x7B617D", "xx"}
	seen := map[string]string{}
	for _, id := range ids {
		tag := accountTag(id)
		if other, dup := seen[tag]; dup {
			t.Fatalf("%q and %q share the hash tag %q", id, other, tag)
		}
		seen[tag] = id
		if strings.ContainsAny(tag, "{}") {
			t.Fatalf("%q: tag %q holds a brace", id, tag)
		}
	}
	for _, id := range []string{"alice", "x7B617D", "xx", "x00", "x"} {
		if tag := accountTag(id); tag != id {
			t.Errorf("%q: tag %q, want the id itself", id, tag)
		}
	}
	if got := accountTag("{a}"); got != "x7b617d" {
		t.Errorf("{a}: tag %q, want x7b617d (as before: keys stay where they were)", got)
	}
}

// TestCancelRefusedWhileLeased: a receipt another instance has claimed
// (its live lease: it is being sent) is not cancelled; once that lease
// has ended (the receipt waits to be sent again) it is.
func TestCancelRefusedWhileLeased(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	lost, _ := NewLossCounter(nil)
	a := NewRedisQueue(c, RedisOptions{Prefix: prefix, Lost: lost, InstanceID: "gwA"})
	b := NewRedisQueue(c, RedisOptions{Prefix: prefix, Lost: lost, InstanceID: "gwB"})
	if err := a.Put(ctx, receipt("CCCCCCCCCCCCCCC1", "acme", 0)); err != nil {
		t.Fatal(err)
	}
	if rs, err := b.Claim(ctx, "acme", t0, 30*time.Second, 10); err != nil || len(rs) != 1 {
		t.Fatalf("Claim = %d %v", len(rs), err)
	}
	if ok, err := a.Cancel(ctx, "acme", "CCCCCCCCCCCCCCC1", t0.Add(time.Second)); err != nil || ok {
		t.Fatalf("Cancel while leased = %v %v, want false", ok, err)
	}
	if o, ok, err := a.Lookup(ctx, "acme", "CCCCCCCCCCCCCCC1"); err != nil || !ok || o.State != pdu.StateEnroute {
		t.Fatalf("Lookup after the refused cancel = %+v %v %v, want ENROUTE", o, ok, err)
	}
	if ok, err := a.Cancel(ctx, "acme", "CCCCCCCCCCCCCCC1", t0.Add(31*time.Second)); err != nil || !ok {
		t.Fatalf("Cancel after the lease ended = %v %v, want true", ok, err)
	}
	if o, ok, _ := a.Lookup(ctx, "acme", "CCCCCCCCCCCCCCC1"); !ok || o.State != pdu.StateDeleted {
		t.Fatalf("Lookup after the cancel = %+v %v, want DELETED", o, ok)
	}
}
