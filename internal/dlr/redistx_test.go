package dlr

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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

// TestOrderedPutsOfTwoInstancesClaimedInTime: ordered puts are
// transactions of plain commands that append to the account's fresh list
// whatever its tail. Two instances (clocks apart) put receipts out of
// order: one that lands more than the tolerance before the list's tail is
// moved to the due set and claimed at its own due time, not behind the
// tail; one within the tolerance stays in the list. Every receipt is
// claimed exactly once.
func TestOrderedPutsOfTwoInstancesClaimedInTime(t *testing.T) {
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

// TestReorderSkipsClaimedAndFinished: an element the reorder script finds
// gone from the list (a claim took it) stays with its claim, and one whose
// receipt is finished does not join the due set.
func TestReorderSkipsClaimedAndFinished(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	q := NewRedisQueue(c, RedisOptions{Prefix: prefix})
	claimed := receipt("00000000000000C1", "acme", time.Second)
	acked := receipt("00000000000000C2", "acme", 2*time.Second)
	for _, r := range []Receipt{claimed, acked} {
		if err := q.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if got := claimIDs(t, q, "acme", claimed.DueAt); !slices.Equal(got, []string{claimed.MessageID}) {
		t.Fatalf("claimed %v", got)
	}
	if err := q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, acked); err != nil {
		t.Fatal(err)
	}
	k := q.accountKeys("acme")
	els := []any{millisArg(claimed.DueAt) + "|" + expiryArg(claimed) + "|" + claimed.MessageID,
		millisArg(acked.DueAt) + "|" + expiryArg(acked) + "|" + acked.MessageID}
	n, err := q.s.reorder.Run(ctx, c, []string{k[1], k[2], k[3], k[0]}, els...).Int()
	if err != nil || n != 0 {
		t.Fatalf("reorder moved %d (%v), want 0", n, err)
	}
	for _, key := range []string{k[1], k[2], k[3]} {
		if m, _ := c.Exists(ctx, key).Result(); m != 0 {
			t.Fatalf("%s left behind", key)
		}
	}
}

// TestOrderedPutDetectsLoss: the transaction's GET of the epoch marker
// finds it gone after Redis lost the account, as the script did.
func TestOrderedPutDetectsLoss(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	lost, err := NewLossCounter(reg)
	if err != nil {
		t.Fatal(err)
	}
	q := NewRedisQueue(c, RedisOptions{Prefix: prefix, Lost: lost})
	for _, id := range []string{"00000000000000D1", "00000000000000D2"} {
		if err := q.Put(ctx, receipt(id, "acme", 0)); err != nil {
			t.Fatal(err)
		}
	}
	epoch, err := c.Get(ctx, q.epochKey("acme")).Result()
	if err != nil {
		t.Fatal(err)
	}
	// Another instance's put finds the marker and keeps it.
	other := NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "other"})
	if err := other.Put(ctx, receipt("00000000000000D3", "acme", 0)); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Get(ctx, q.epochKey("acme")).Result(); got != epoch {
		t.Fatalf("epoch marker %q after another instance's put, want %q", got, epoch)
	}
	base := q.accountBase("acme")
	if err := c.Del(ctx, base+"r", base+"fresh", base+"epoch").Err(); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, receipt("00000000000000D4", "acme", 0)); err != nil {
		t.Fatal(err)
	}
	if got := metric(t, reg, "dlr_lost_total", "cause="+LostRedisDataLoss); got != 2 {
		t.Fatalf("dlr_lost_total{cause=redis_data_loss} = %v, want 2 (what this instance stored)", got)
	}
	if n, _ := c.Exists(ctx, q.epochKey("acme")).Result(); n != 1 {
		t.Fatal("no epoch marker after the loss")
	}
	// Counted once: the next put finds the new marker.
	if err := q.Put(ctx, receipt("00000000000000D5", "acme", 0)); err != nil {
		t.Fatal(err)
	}
	if got := metric(t, reg, "dlr_lost_total", "cause="+LostRedisDataLoss); got != 2 {
		t.Fatalf("dlr_lost_total{cause=redis_data_loss} = %v after another put, want 2", got)
	}
}

// TestOrderedPutFailingHalfWayLeavesNoBody: a command of the put's
// transaction fails when it runs (the fresh list has the wrong type) while
// the others run: the put fails and the body it wrote is removed, so that
// a later restore stores the receipt in full rather than leave a body no
// claim finds.
func TestOrderedPutFailingHalfWayLeavesNoBody(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	q := NewRedisQueue(c, RedisOptions{Prefix: prefix})
	k := q.accountKeys("acme")
	if err := c.Set(ctx, k[1], "not a list", 0).Err(); err != nil {
		t.Fatal(err)
	}
	r := receipt("00000000000000E1", "acme", 0)
	if err := q.Put(ctx, r); err == nil {
		t.Fatal("put succeeded with a fresh list of the wrong type")
	}
	if n, _ := c.HLen(ctx, k[0]).Result(); n != 0 {
		t.Fatalf("%d bodies left by the failed put", n)
	}
	if err := c.Del(ctx, k[1]).Err(); err != nil {
		t.Fatal(err)
	}
	if errs := q.Restore(ctx, []Receipt{r}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if got := claimIDs(t, q, "acme", r.DueAt); !slices.Equal(got, []string{r.MessageID}) {
		t.Fatalf("claimed %v after the restore, want %s", got, r.MessageID)
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
	bucket, _ := q.doneBucket("acme", time.Now())
	if ttl, err := c.PTTL(ctx, bucket).Result(); err != nil || ttl <= 0 {
		t.Fatalf("done bucket TTL %v (%v), want one", ttl, err)
	}
	if got := claimIDs(t, q, "acme", at.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("claimed %v after the ack", got)
	}
}

// TestPutTxLateElems: which elements of an ordered put land too far
// before the list's old tail.
func TestPutTxLateElems(t *testing.T) {
	el := func(due, exp int64, id string) *string {
		var b []byte
		b = appendMillis(b, time.UnixMilli(due))
		b = append(b, '|')
		b = appendMillis(b, time.UnixMilli(exp))
		s := string(append(append(b, '|'), id...))
		return &s
	}
	const d, x = 1_700_000_000_000, 1_700_000_600_000
	tests := []struct {
		name  string
		tail  *string
		elems []*string
		late  int
	}{
		{"after the tail", el(d, x, "t"), []*string{el(d, x, "a"), el(d+5, x+5, "b")}, 0},
		{"within the tolerance", el(d, x, "t"), []*string{el(d-orderTolerance, x-orderTolerance, "a")}, 0},
		{"due too early", el(d, x, "t"), []*string{el(d-orderTolerance-1, x, "a"), el(d, x, "b")}, 1},
		{"expires too early", el(d, x, "t"), []*string{el(d, x-1000, "a"), el(d+1, x-orderTolerance-1, "b"), el(d+2, x, "c")}, 2},
		{"tail unreadable", ptr("garbage"), []*string{el(d, x, "a")}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			strs := make([]string, len(tc.elems))
			for i, e := range tc.elems {
				strs[i] = *e
			}
			tx := newPutTx([]string{"r", "fresh", "epoch"}, "e", strs, len(strs))
			if got := tx.lateElems(*tc.tail); len(got) != tc.late {
				t.Fatalf("%d late elements, want %d", len(got), tc.late)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestOrderedPutClientTypes: the ordered put goes out as a transaction on
// a Client and, when a batch holds one account, on a Cluster client; a
// Cluster batch of several accounts keeps the script.
func TestOrderedPutClientTypes(t *testing.T) {
	tests := []struct {
		name   string
		c      redis.UniversalClient
		wait   int
		groups int
		want   bool
	}{
		{"client", redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), 0, 3, true},
		{"cluster, one account", redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}), 0, 1, true},
		{"cluster, several accounts", redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}), 0, 2, false},
		{"cluster with WAIT: by master", redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}), 1, 2, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer tc.c.Close()
			q := NewRedisQueue(tc.c, RedisOptions{WaitReplicas: tc.wait})
			if got := q.txPuts(tc.groups); got != tc.want {
				t.Fatalf("txPuts(%d) = %v, want %v", tc.groups, got, tc.want)
			}
		})
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
