package dlr

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestMemoryQueueRoundTrip checks that what the compact entry keeps comes
// back as it was put, on Claim, Expire and Lookup, for receipts of the
// gateway's own form and for those that need the fallbacks.
func TestMemoryQueueRoundTrip(t *testing.T) {
	ctx := context.Background()
	base := func(id string) Receipt {
		r := receipt(id, "acme", 0)
		r.ExpiresAt = t0.Add(time.Hour)
		return r
	}
	cases := []struct {
		name string
		edit func(r *Receipt)
		want func(r *Receipt) // expected differences; nil: none
	}{
		{"canonical id", func(r *Receipt) { r.MessageID = "5A00000000000001" }, nil},
		{"canonical id zero", func(r *Receipt) { r.MessageID = "0000000000000000" }, nil},
		{"canonical id max", func(r *Receipt) { r.MessageID = "FFFFFFFFFFFFFFFF" }, nil},
		{"short id", func(r *Receipt) { r.MessageID = "m1" }, nil},
		{"lowercase hex id", func(r *Receipt) { r.MessageID = "5a00000000000001" }, nil},
		{"16 characters, not hex", func(r *Receipt) { r.MessageID = "5A0000000000000G" }, nil},
		{"17 hex digits", func(r *Receipt) { r.MessageID = "5A000000000000001" }, nil},
		{"digit addresses", func(r *Receipt) {
			r.Source = pdu.Address{TON: 1, NPI: 1, Addr: "4915112345678"}
			r.Dest = pdu.Address{TON: 1, NPI: 1, Addr: "407225712345"}
		}, nil},
		{"odd and even digit counts", func(r *Receipt) { r.Source.Addr, r.Dest.Addr = "1", "09" }, nil},
		{"longest pair that fits", func(r *Receipt) {
			r.Source.Addr, r.Dest.Addr = strings.Repeat("9", 20), strings.Repeat("0", 20)
		}, nil},
		{"alphanumeric source and 15 digits", func(r *Receipt) { r.Source.Addr, r.Dest.Addr = "ABCDEFGHIJK", "123456789012345" }, nil},
		{"long alphanumeric addresses", func(r *Receipt) {
			r.Source.Addr, r.Dest.Addr = "SENDER-NAME-OF-20-CH", "+4072257123456789012"
		}, nil},
		{"addresses longer than a header describes", func(r *Receipt) {
			r.Source.Addr, r.Dest.Addr = strings.Repeat("s", 200), strings.Repeat("7", 130)
		}, nil},
		{"empty addresses", func(r *Receipt) { r.Source, r.Dest = pdu.Address{TON: 5}, pdu.Address{} }, nil},
		{"unknown reason and err", func(r *Receipt) { r.Reason, r.Err = "provider_says_no", "077" }, nil},
		{"empty err and reason", func(r *Receipt) { r.Reason, r.Err = "", "" }, nil},
		{"never expires", func(r *Receipt) { r.ExpiresAt = time.Time{} }, nil},
		{"zero submit time", func(r *Receipt) { r.SubmittedAt = time.Time{} }, nil},
		{"nanosecond times", func(r *Receipt) {
			r.SubmittedAt = t0.Add(123456789 * time.Nanosecond)
			r.ExpiresAt = t0.Add(time.Hour + time.Nanosecond)
		}, nil},
		{"attempts", func(r *Receipt) { r.Attempts = 7 }, nil},
		{"attempts saturate", func(r *Receipt) { r.Attempts = 1 << 20 }, func(r *Receipt) { r.Attempts = math.MaxUint16 }},
		{"negative attempts", func(r *Receipt) { r.Attempts = -1 }, func(r *Receipt) { r.Attempts = 0 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base("R1")
			c.edit(&in)
			want := in
			if c.want != nil {
				c.want(&want)
			}
			q := NewMemoryQueue(MemoryOptions{})
			if err := q.Put(ctx, in); err != nil {
				t.Fatal(err)
			}
			o, ok, err := q.Lookup(ctx, "acme", in.MessageID)
			if err != nil || !ok || o.State != pdu.StateEnroute || o.Destination != in.Dest.Addr || !o.SubmittedAt.Equal(in.SubmittedAt) {
				t.Fatalf("Lookup pending = %+v %v %v", o, ok, err)
			}
			rs, err := q.Claim(ctx, "acme", t0, time.Minute, 10)
			if err != nil || len(rs) != 1 {
				t.Fatalf("Claim = %v %v", rs, err)
			}
			assertSameReceipt(t, rs[0], want)
			rs, err = q.Expire(ctx, t0.Add(1000*time.Hour), 10)
			if err != nil || (len(rs) == 1) == in.ExpiresAt.IsZero() {
				t.Fatalf("Expire = %v %v", rs, err)
			}
			if len(rs) == 1 {
				want.DueAt = t0.Add(time.Minute) // the lease end
				assertSameReceipt(t, rs[0], want)
				o, ok, _ := q.Lookup(ctx, "acme", in.MessageID)
				if !ok || o.State != pdu.StateExpired || o.Destination != in.Dest.Addr || !o.SubmittedAt.Equal(in.SubmittedAt) {
					t.Fatalf("Lookup expired = %+v %v", o, ok)
				}
			}
		})
	}
}

// TestMemoryQueueManyReasons fills the intern table and keeps going: the
// texts it has no room for are kept aside and come back all the same.
func TestMemoryQueueManyReasons(t *testing.T) {
	ctx := context.Background()
	q := NewMemoryQueue(MemoryOptions{})
	const n = 2 * internMax
	for i := range n {
		r := receipt(fmt.Sprintf("M%d", i), "acme", time.Duration(i))
		r.Reason, r.Err = fmt.Sprintf("reason_%d", i), fmt.Sprintf("%03d", i%7)
		if err := q.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := q.Claim(ctx, "acme", t0.Add(time.Hour), time.Minute, n)
	if err != nil || len(rs) != n {
		t.Fatalf("Claim = %d receipts, %v", len(rs), err)
	}
	for i, r := range rs {
		if want := fmt.Sprintf("reason_%d", i); r.Reason != want || r.Err != fmt.Sprintf("%03d", i%7) {
			t.Fatalf("receipt %d: reason %q err %q, want %q", i, r.Reason, r.Err, want)
		}
	}
	if len(q.spill) == 0 || len(q.texts.texts) != internMax+1 {
		t.Fatalf("%d spilled, %d interned: the table should be full", len(q.spill), len(q.texts.texts))
	}
	if err := q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, rs...); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"M0", fmt.Sprintf("M%d", n-1)} {
		if o, ok, _ := q.Lookup(ctx, "acme", id); !ok || o.State != pdu.StateDelivered {
			t.Fatalf("Lookup %s = %+v %v", id, o, ok)
		}
	}
}

// TestMemoryQueueReusesEntries checks that forgotten entries are reused,
// that the spill records and accounts of forgotten receipts go, and that an
// id put again after it was remembered is not forgotten with its old slot.
func TestMemoryQueueReusesEntries(t *testing.T) {
	ctx := context.Background()
	q := NewMemoryQueue(MemoryOptions{RememberEntries: 4})
	ack := func(rs ...Receipt) {
		t.Helper()
		if err := q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, rs...); err != nil {
			t.Fatal(err)
		}
	}
	kept := receipt("5A000000000000FF", "acme", 0)
	if err := q.Put(ctx, kept); err != nil {
		t.Fatal(err)
	}
	ack(kept)
	if err := q.Put(ctx, kept); err != nil { // pending again, its old ring slot stale
		t.Fatal(err)
	}
	for i := range 1000 {
		r := receipt(fmt.Sprintf("id-%d", i), fmt.Sprintf("sys%d", i%3), 0)
		r.Dest.Addr = strings.Repeat("x", 40) // spilled
		if err := q.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
		ack(r)
	}
	if q.store.used > 8 {
		t.Errorf("%d entries handed out for 5 live ones", q.store.used)
	}
	if len(q.spill) != 4 || len(q.byOther) != 4 {
		t.Errorf("%d spill records, %d other ids, want 4 (the remembered)", len(q.spill), len(q.byOther))
	}
	if o, ok, _ := q.Lookup(ctx, "acme", kept.MessageID); !ok || o.State != pdu.StateEnroute {
		t.Fatalf("Lookup of the receipt put again = %+v %v", o, ok)
	}
	if _, ok, _ := q.Lookup(ctx, "sys0", "id-0"); ok {
		t.Error("the oldest outcome is still remembered")
	}
	if o, ok, _ := q.Lookup(ctx, "sys0", "id-999"); !ok || o.State != pdu.StateDelivered || o.Destination != strings.Repeat("x", 40) {
		t.Errorf("Lookup of the last outcome = %+v %v", o, ok)
	}
	ack(kept)
	for i := range 4 {
		ack(receipt(fmt.Sprintf("late-%d", i), "late", 0))
	}
	if _, ok := q.accts.byName["acme"]; ok || len(q.accts.byName) != 1 {
		t.Errorf("accounts %v, want only late", q.accts.byName)
	}
}

func TestParseCanonicalID(t *testing.T) {
	cases := []struct {
		id string
		v  uint64
		ok bool
	}{
		{"0000000000000000", 0, true},
		{"5A00000000000001", 0x5A00000000000001, true},
		{"FFFFFFFFFFFFFFFF", math.MaxUint64, true},
		{"ffffffffffffffff", 0, false}, // would not come back the same
		{"5A0000000000001", 0, false},
		{"5A000000000000001", 0, false},
		{"5A00000000000 01", 0, false},
		{"5A0000000000000G", 0, false},
		{"5A000000000000:1", 0, false},
		{"/A00000000000001", 0, false},
		{"", 0, false},
	}
	for _, c := range cases {
		v, ok := parseCanonicalID(c.id)
		if v != c.v || ok != c.ok {
			t.Errorf("parseCanonicalID(%q) = %x %v, want %x %v", c.id, v, ok, c.v, c.ok)
		}
		if ok {
			if s := string(appendCanonicalID(nil, v)); s != c.id {
				t.Errorf("appendCanonicalID(%x) = %q", v, s)
			}
		}
	}
}

func TestPackAddrs(t *testing.T) {
	cases := []struct {
		src, dst string
		fits     bool
	}{
		{"", "", true},
		{"ACME", "407225712345", true},
		{"0", "1", true},
		{"0123456789", "98765432109", true},
		{strings.Repeat("9", 20), strings.Repeat("1", 20), true},
		{"ABCDEFGHIJK", "123456789012345", true},
		{"+407225712345", "407225712345", true},
		{"ABCDEFGHIJKLMNOPQRST", "12", false},
		{strings.Repeat("1", 128), "", false},
	}
	for _, c := range cases {
		var a [memAddrsLen]byte
		if got := packAddrs(&a, c.src, c.dst); got != c.fits {
			t.Errorf("packAddrs(%q, %q) = %v, want %v", c.src, c.dst, got, c.fits)
			continue
		}
		if !c.fits {
			continue
		}
		b, n := unpackAddrs(nil, &a)
		if string(b[:n]) != c.src || string(b[n:]) != c.dst || unpackDest(&a) != c.dst {
			t.Errorf("packAddrs(%q, %q) unpacks as %q, %q", c.src, c.dst, b[:n], b[n:])
		}
	}
}

// TestMemIndex checks the id index against a map through growth, shrinking
// and deletions inside probe runs, with ids that share their low bits.
func TestMemIndex(t *testing.T) {
	var s memStore
	var x memIndex
	want := map[uint64]memRef{}
	rng := rand.New(rand.NewPCG(1, 2))
	id := func() uint64 { return uint64(rng.IntN(5000)) << 40 }
	for step := range 200_000 {
		v := id() // puts and deletions, then only deletions: the table shrinks
		ref, ok := want[v]
		switch {
		case !ok && step < 100_000:
			ref = s.alloc()
			s.at(ref).id = v
			x.put(v, ref, &s)
			want[v] = ref
		case ok:
			x.remove(v, &s)
			s.release(ref)
			delete(want, v)
		}
		if step%997 == 0 || step == 199_999 {
			if x.len() != len(want) {
				t.Fatalf("step %d: index holds %d, want %d", step, x.len(), len(want))
			}
			for v, ref := range want {
				if got, ok := x.get(v, &s); !ok || got != ref {
					t.Fatalf("step %d: get(%x) = %d %v, want %d", step, v, got, ok, ref)
				}
			}
			if _, ok := x.get(1, &s); ok {
				t.Fatal("found an id never put")
			}
		}
	}
	slots := 0
	for _, tab := range x.tabs {
		slots += len(tab.slots)
	}
	if slots > memIndexTables<<memIndexMinBits {
		t.Errorf("%d slots for %d ids: the tables did not shrink", slots, x.len())
	}
}

// TestMemoryQueueCompacts checks that the entries a burst needed are given
// back once most of them are forgotten, and that every receipt, outcome
// and index survives the renumbering.
func TestMemoryQueueCompacts(t *testing.T) {
	ctx := context.Background()
	q := NewMemoryQueue(MemoryOptions{RememberEntries: 100})
	const n, keep = 6 * memChunkLen, 500
	mk := func(i int) Receipt {
		id := fmt.Sprintf("%016X", 0x5A00000000000000+uint64(i))
		if i%5 == 0 {
			id = fmt.Sprintf("other-%d", i) // kept aside
		}
		r := receipt(id, fmt.Sprintf("sys%d", i%2), time.Duration(i))
		if i%7 == 0 {
			r.Dest.Addr = strings.Repeat("d", 30) + fmt.Sprint(i) // kept aside
		}
		r.Attempts = i % 100
		return r
	}
	var acked []Receipt
	for i := range n {
		r := mk(i)
		if err := q.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
		if i >= keep {
			acked = append(acked, r)
		}
	}
	// One outcome is remembered, put again, and acked again with the
	// rest: its first ring slot goes stale before the renumbering.
	if err := q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, acked[len(acked)-1]); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, acked[len(acked)-1]); err != nil {
		t.Fatal(err)
	}
	if err := q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, acked...); err != nil {
		t.Fatal(err)
	}
	if q.store.used > keep+200 {
		t.Fatalf("%d entries in the store for %d pending and 100 remembered", q.store.used, keep)
	}
	for i := range keep {
		want := mk(i)
		o, ok, _ := q.Lookup(ctx, want.SystemID, want.MessageID)
		if !ok || o.State != pdu.StateEnroute || o.Destination != want.Dest.Addr {
			t.Fatalf("Lookup %s after compaction = %+v %v", want.MessageID, o, ok)
		}
	}
	for _, r := range acked[len(acked)-100:] {
		if o, ok, _ := q.Lookup(ctx, r.SystemID, r.MessageID); !ok || o.State != pdu.StateDelivered || o.Destination != r.Dest.Addr {
			t.Fatalf("Lookup %s = %+v %v", r.MessageID, o, ok)
		}
	}
	for _, sys := range []string{"sys0", "sys1"} {
		rs, err := q.Claim(ctx, sys, t0.Add(time.Hour), time.Minute, n)
		if err != nil || len(rs) != keep/2 {
			t.Fatalf("Claim %s = %d receipts, %v", sys, len(rs), err)
		}
		for _, r := range rs {
			var i int
			if _, err := fmt.Sscanf(r.MessageID, "other-%d", &i); err != nil {
				v, _ := parseCanonicalID(r.MessageID)
				i = int(v - 0x5A00000000000000)
			}
			assertSameReceipt(t, r, mk(i))
		}
		if err := q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, rs...); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := q.Len(ctx); n != 0 || q.store.live != 100 || q.byID.len()+len(q.byOther) != 100 {
		t.Fatalf("Len %d, %d entries live, %d ids indexed; want 0, 100, 100", n, q.store.live, q.byID.len()+len(q.byOther))
	}
}

// TestMemoryQueueExpiryBound checks that the bound which lets Expire skip
// its scan follows Put and Retry, and survives a call cut short by max.
func TestMemoryQueueExpiryBound(t *testing.T) {
	ctx := context.Background()
	q := NewMemoryQueue(MemoryOptions{})
	expire := func(at time.Duration, max int) []string {
		t.Helper()
		rs, err := q.Expire(ctx, t0.Add(at), max)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range rs {
			ids = append(ids, r.MessageID)
		}
		return sorted(ids)
	}
	for i, exp := range []time.Duration{time.Hour, 2 * time.Hour, 2 * time.Hour, 3 * time.Hour} {
		r := receipt(fmt.Sprintf("X%d", i), "acme", 0)
		r.ExpiresAt = t0.Add(exp)
		if err := q.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if got := expire(30*time.Minute, 10); got != nil {
		t.Fatalf("expired %v before any expiry", got)
	}
	r := receipt("X3", "acme", 0)
	r.ExpiresAt = t0.Add(10 * time.Minute)
	if err := q.Retry(ctx, r, t0); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(expire(30*time.Minute, 10)); got != "[X3]" {
		t.Fatalf("after an earlier expiry by Retry expired %s, want [X3]", got)
	}
	if got := fmt.Sprint(expire(90*time.Minute, 10)); got != "[X0]" {
		t.Fatalf("expired %s, want [X0]", got)
	}
	if got := len(expire(150*time.Minute, 1)); got != 1 {
		t.Fatalf("Expire(max 1) took %d", got)
	}
	if got := len(expire(150*time.Minute, 10)); got != 1 {
		t.Fatalf("the receipt left by max was not expired next time (%d)", got)
	}
	if n, _ := q.Len(ctx); n != 0 || q.minExp != noExpiry {
		t.Fatalf("Len %d, bound %d", n, q.minExp)
	}
}

// TestMemoryQueueCompactsWithStaleRingSlot renumbers the store while a ring
// slot still names an entry that was remembered, put again and remembered
// in a later slot; the ring must not follow that old number afterwards.
func TestMemoryQueueCompactsWithStaleRingSlot(t *testing.T) {
	ctx := context.Background()
	const ring, n = 100, 6 * memChunkLen
	q := NewMemoryQueue(MemoryOptions{RememberEntries: ring})
	rs := make([]Receipt, n)
	for i := range rs {
		rs[i] = receipt(fmt.Sprintf("%016X", i), "acme", 0)
		if err := q.Put(ctx, rs[i]); err != nil {
			t.Fatal(err)
		}
	}
	ack := func(rs ...Receipt) {
		t.Helper()
		if err := q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, rs...); err != nil {
			t.Fatal(err)
		}
	}
	// Leave the store two forgets short of sparse: live entries (pending
	// and remembered) just above a quarter of those handed out.
	m := n + ring - n/4 - 2
	ack(rs[:m]...)
	if q.store.live != n/4+2 || q.store.used != n {
		t.Fatalf("live %d of %d, want %d of %d", q.store.live, q.store.used, n/4+2, n)
	}
	y := rs[m]
	ack(y)        // remembered in slot k
	q.Put(ctx, y) // pending again: slot k names it still
	ack(y)        // remembered in slot k+1; slot k is stale
	ack(rs[m+1])  // the store is sparse now and renumbered
	if q.store.used >= n/4 {
		t.Fatalf("not compacted: %d entries handed out", q.store.used)
	}
	ack(rs[m+2 : m+2+2*ring]...) // the ring passes the stale slot
	if o, ok, _ := q.Lookup(ctx, "acme", rs[m+1+2*ring].MessageID); !ok || o.State != pdu.StateDelivered {
		t.Fatalf("Lookup of the last outcome = %+v %v", o, ok)
	}
	if n, _ := q.Len(ctx); n != len(rs)-(m+2+2*ring) || q.store.live != n+ring {
		t.Fatalf("Len %d, %d live", n, q.store.live)
	}
}
