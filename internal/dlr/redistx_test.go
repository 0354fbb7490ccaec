package dlr

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// claimIDs claims up to 100 receipts of sys at now (lease one minute) and
// returns their ids, sorted.
func claimIDs(t *testing.T, q *RedisQueue, sys string, now time.Time) []string {
	t.Helper()
	rs, err := q.Claim(context.Background(), sys, now, time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		ids = append(ids, r.MessageID)
	}
	slices.Sort(ids)
	return ids
}

// TestPutsOfTwoInstancesClaimedInTime: two instances (clocks apart) put
// receipts out of order. The put script, which reads the fresh list's tail
// and writes in one step, sends one due more than 250 ms before the tail
// to the due set, claimed at its own due time, not behind the tail; one
// within 250 ms joins the list, due with the tail. Every receipt is
// claimed exactly once.
func TestPutsOfTwoInstancesClaimedInTime(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	a := NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "a"})
	b := NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "b"})
	late := receipt("00000000000000B1", "acme", 10*time.Second)
	early := receipt("00000000000000A1", "acme", time.Second)
	close := receipt("00000000000000A2", "acme", 10*time.Second-100*time.Millisecond)
	if err := b.Put(ctx, late); err != nil {
		t.Fatal(err)
	}
	for _, r := range []Receipt{early, close} {
		if err := a.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	k := a.accountKeys("acme")
	if due, err := c.ZScore(ctx, k[2], early.MessageID).Result(); err != nil || int64(due) != early.DueAt.UnixMilli() {
		t.Fatalf("early receipt in the due set at %v (%v), want %d", due, err, early.DueAt.UnixMilli())
	}
	if exp, err := c.ZScore(ctx, k[3], early.MessageID).Result(); err != nil || int64(exp) != early.ExpiresAt.UnixMilli() {
		t.Fatalf("early receipt in the exp set at %v (%v), want %d", exp, err, early.ExpiresAt.UnixMilli())
	}
	if els, _ := c.LRange(ctx, k[1], 0, -1).Result(); len(els) != 2 {
		t.Fatalf("fresh list %q, want the two receipts near the tail", els)
	}
	cases := []struct {
		at   time.Time
		want []string
	}{
		{early.DueAt, []string{early.MessageID}},
		{late.DueAt.Add(-time.Second), nil},
		{late.DueAt, []string{close.MessageID, late.MessageID}},
		{late.DueAt.Add(30 * time.Second), nil}, // leased for a minute, not again
	}
	for _, tc := range cases {
		if got := claimIDs(t, a, "acme", tc.at); !slices.Equal(got, tc.want) {
			t.Fatalf("claim at %v: %v, want %v", tc.at.Sub(t0), got, tc.want)
		}
	}
}

// TestAckTransactionLeavesNoMember: an ack (a transaction of plain
// commands) removes the receipts from the pending index and from the due,
// exp and lease sets, whichever held them, and remembers the outcome in a
// done bucket that expires.
func TestAckTransactionLeavesNoMember(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	q := NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "a"})
	fresh := receipt("00000000000000F1", "acme", 5*time.Second)
	leased := receipt("00000000000000F2", "acme", 10*time.Second)
	retried := receipt("00000000000000F3", "acme", 20*time.Second)
	other := receipt("00000000000000F4", "beta", 0)
	for _, r := range []Receipt{fresh, leased, retried, other} {
		if err := q.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Retry(ctx, retried, t0.Add(30*time.Second)); err != nil { // due and exp sets
		t.Fatal(err)
	}
	// F1 and F2 leased (the lease set), F3 scheduled (due and exp sets),
	// F4 fresh (the list).
	if got := claimIDs(t, q, "acme", leased.DueAt); len(got) != 2 {
		t.Fatalf("claimed %v", got)
	}
	at := t0.Add(time.Hour)
	if err := q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: at}, fresh, leased, retried, other); err != nil {
		t.Fatal(err)
	}
	for _, sys := range []string{"acme", "beta"} {
		k := q.accountKeys(sys)
		for _, key := range []string{k[0], k[2], k[3], q.leaseKey(sys, "a")} {
			if n, _ := c.Exists(ctx, key).Result(); n != 0 {
				members, _ := c.Do(ctx, "type", key).Result()
				t.Fatalf("%s (%v) still holds members after the ack", key, members)
			}
		}
	}
	for _, r := range []Receipt{fresh, leased, retried, other} {
		o, ok, err := q.Lookup(ctx, r.SystemID, r.MessageID)
		if err != nil || !ok || o.State != pdu.StateDelivered || !o.At.Equal(at) {
			t.Fatalf("lookup of %s: %+v %v %v, want delivered at %v", r.MessageID, o, ok, err, at)
		}
	}
	// The ack chose its bucket by its own reading of the clock, which a
	// bucket's boundary may separate from this one: every bucket that
	// holds the outcome must expire, and one must hold it.
	found := false
	for _, bucket := range q.doneKeys("acme", time.Now()) {
		key, _ := doneKey(bucket, fresh.MessageID)
		ttl, err := c.PTTL(ctx, key).Result()
		if err != nil || ttl == -1 {
			t.Fatalf("done key %s: TTL %v (%v), want one", key, ttl, err)
		}
		found = found || ttl > 0
	}
	if !found {
		t.Fatal("no done key with a TTL holds the outcome after the ack")
	}
	if got := claimIDs(t, q, "acme", at.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("claimed %v after the ack", got)
	}
}

// TestClaimOfCancelledFreshReceiptLeavesNoLease: the claim script leases
// the ids of due list elements without reading their bodies; the claim
// reads them afterwards and ends the lease of one whose body is gone (a
// cancelled receipt's element stays in the list).
func TestClaimOfCancelledFreshReceiptLeavesNoLease(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	q := NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "a"})
	cancelled := receipt("00000000000000G1", "acme", time.Second)
	kept := receipt("00000000000000G2", "acme", time.Second)
	for _, r := range []Receipt{cancelled, kept} {
		if err := q.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := q.Cancel(ctx, "acme", cancelled.MessageID, t0); err != nil || !ok {
		t.Fatalf("cancel: %v %v", ok, err)
	}
	if got := claimIDs(t, q, "acme", kept.DueAt); !slices.Equal(got, []string{kept.MessageID}) {
		t.Fatalf("claimed %v, want %s", got, kept.MessageID)
	}
	if err := c.ZScore(ctx, q.leaseKey("acme", "a"), cancelled.MessageID).Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("the cancelled receipt is still leased (%v)", err)
	}
	if _, err := c.ZScore(ctx, q.leaseKey("acme", "a"), kept.MessageID).Result(); err != nil {
		t.Fatalf("the claimed receipt is not leased: %v", err)
	}
}

// TestClaimKeepsLeaseOfBodyOnTheMaster: the HMGET after the claim script
// answered no body (as a lagging replica would) for two leased ids: the
// lease ends only for the one whose body the master does not hold either
// (cancelled). The other keeps its lease, is not delivered now, and is
// claimed again once the lease ends: late, not lost.
func TestClaimKeepsLeaseOfBodyOnTheMaster(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	q := NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "a"})
	live := receipt("00000000000000J1", "acme", time.Second)
	cancelled := receipt("00000000000000J2", "acme", time.Second)
	for _, r := range []Receipt{live, cancelled} {
		if err := q.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := q.Cancel(ctx, "acme", cancelled.MessageID, t0); err != nil || !ok {
		t.Fatalf("cancel: %v %v", ok, err)
	}
	ids, _, err := q.leaseDue(ctx, "acme", q.claimKeys("acme"), live.DueAt, live.DueAt.Add(time.Minute).UnixMilli(), 100)
	if err != nil || len(ids) != 2 {
		t.Fatalf("leased %v (%v), want both list elements", ids, err)
	}
	if got := q.decodeClaimed(ctx, "acme", ids, make([]string, len(ids))); len(got) != 0 {
		t.Fatalf("decoded %d receipts from no bodies", len(got))
	}
	lease := q.leaseKey("acme", "a")
	tests := []struct {
		id     string
		leased bool
	}{
		{live.MessageID, true},
		{cancelled.MessageID, false},
	}
	for _, tc := range tests {
		err := c.ZScore(ctx, lease, tc.id).Err()
		if leased := err == nil; leased != tc.leased || (err != nil && !errors.Is(err, redis.Nil)) {
			t.Fatalf("%s leased %v (%v), want %v", tc.id, leased, err, tc.leased)
		}
	}
	if got := claimIDs(t, q, "acme", live.DueAt.Add(30*time.Second)); len(got) != 0 {
		t.Fatalf("claimed %v while leased", got)
	}
	if got := claimIDs(t, q, "acme", live.DueAt.Add(time.Minute)); !slices.Equal(got, []string{live.MessageID}) {
		t.Fatalf("claimed %v after the lease ended, want %s", got, live.MessageID)
	}
}

// TestLargeClaimLeavesLeaseSetAsSkiplist: a claim of more ids than a
// listpack holds builds the lease set as a skiplist at once (its member
// that forces it is gone when the script ends), and one of a few leaves
// the small set alone.
func TestLargeClaimLeavesLeaseSetAsSkiplist(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	q := NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "a"})
	tests := []struct {
		sys      string
		n        int
		skiplist bool
	}{
		{"small", 3, false}, // listpack (ziplist before Redis 7)
		{"large", 200, true},
	}
	for _, tc := range tests {
		t.Run(tc.sys, func(t *testing.T) {
			for i := range tc.n {
				if err := q.Put(ctx, receipt(fmt.Sprintf("%016X", i+1), tc.sys, 0)); err != nil {
					t.Fatal(err)
				}
			}
			rs, err := q.Claim(ctx, tc.sys, t0, time.Minute, 256)
			if err != nil || len(rs) != tc.n {
				t.Fatalf("claimed %d (%v), want %d", len(rs), err, tc.n)
			}
			lease := q.leaseKey(tc.sys, "a")
			if n, _ := c.ZCard(ctx, lease).Result(); n != int64(tc.n) {
				t.Fatalf("lease set of %d members, want %d", n, tc.n)
			}
			if enc, err := c.ObjectEncoding(ctx, lease).Result(); err != nil || (enc == "skiplist") != tc.skiplist {
				t.Fatalf("lease set encoding %q (%v), want skiplist %v", enc, err, tc.skiplist)
			}
		})
	}
}

// TestRefusedPutTransactionLeavesNoBody: on a single server the usual put
// is a transaction (RPUSH, HSET, putTailLua); when the RPUSH is refused
// (the fresh list's key holds another type) the HSET runs anyway, and the
// script must remove those bodies: a body without a list element would be
// pending for ever and never claimed. The put fails, and succeeds once
// the key is a list again.
func TestRefusedPutTransactionLeavesNoBody(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	q := NewRedisQueue(c, RedisOptions{Prefix: prefix})
	if !q.plainPuts {
		t.Skip("the test client is not a single server")
	}
	k := q.accountKeys("acme")
	if err := c.Set(ctx, k[1], "not a list", 0).Err(); err != nil {
		t.Fatal(err)
	}
	r := receipt("00000000000000E1", "acme", time.Second)
	if err := q.Put(ctx, r); err == nil {
		t.Fatal("put succeeded while the fresh list holds a string")
	}
	if n, err := c.HLen(ctx, k[0]).Result(); err != nil || n != 0 {
		t.Fatalf("pending index holds %d bodies (%v) after the refused put, want 0", n, err)
	}
	if err := c.Del(ctx, k[1]).Err(); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got := claimIDs(t, q, "acme", r.DueAt); !slices.Equal(got, []string{r.MessageID}) {
		t.Fatalf("claimed %v, want %s", got, r.MessageID)
	}
}
