package dlr

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestQueueContract runs one suite against every Queue implementation.
func TestQueueContract(t *testing.T) {
	ctx := context.Background()
	lease := 30 * time.Second
	ids := func(rs []Receipt) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.MessageID)
		}
		return out
	}
	claim := func(t *testing.T, q Queue, sys string, now time.Time, max int) []string {
		t.Helper()
		rs, err := q.Claim(ctx, sys, now, lease, max)
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		return ids(rs)
	}
	put := func(t *testing.T, q Queue, rs ...Receipt) {
		t.Helper()
		for _, r := range rs {
			if err := q.Put(ctx, r); err != nil {
				t.Fatalf("Put: %v", err)
			}
		}
	}
	lookup := func(t *testing.T, q Queue, id string) (Outcome, bool) {
		t.Helper()
		sys := "acme"
		if id == "E2" {
			sys = "other"
		}
		o, ok, err := q.Lookup(ctx, sys, id)
		if err != nil {
			t.Fatalf("Lookup: %v", err)
		}
		return o, ok
	}
	qlen := func(t *testing.T, q Queue) int {
		t.Helper()
		n, err := q.Len(ctx)
		if err != nil {
			t.Fatalf("Len: %v", err)
		}
		return n
	}

	cases := []struct {
		name string
		run  func(t *testing.T, q Queue)
	}{
		{"accounts names the accounts holding receipts or outcomes", func(t *testing.T, q Queue) {
			put(t, q, receipt("A1", "acme", time.Second), receipt("B1", "other", 0))
			done := make(chan error, 1)
			q.(OutcomeRecorder).RecordAsync(Outcome{State: pdu.StateDelivered, At: t0}, receipt("C1", "ghost", 0), func(err error) { done <- err })
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			accs, err := q.(accountLister).Accounts(ctx)
			if slices.Sort(accs); err != nil || fmt.Sprint(accs) != "[acme ghost other]" {
				t.Fatalf("Accounts: %v %v, want [acme ghost other]", accs, err)
			}
		}},
		{"claim returns due receipts in due order, leased", func(t *testing.T, q Queue) {
			put(t, q, receipt("A3", "acme", 3*time.Second), receipt("A1", "acme", time.Second),
				receipt("A2", "acme", 2*time.Second), receipt("B1", "other", 0))
			if got := claim(t, q, "acme", t0, 10); len(got) != 0 {
				t.Fatalf("claimed %v before due", got)
			}
			if got := fmt.Sprint(claim(t, q, "acme", t0.Add(2*time.Second), 10)); got != "[A1 A2]" {
				t.Fatalf("claimed %s, want [A1 A2]", got)
			}
			if got := claim(t, q, "acme", t0.Add(2*time.Second), 10); len(got) != 0 {
				t.Fatalf("claimed %v again during the lease", got)
			}
			if got := fmt.Sprint(claim(t, q, "acme", t0.Add(3*time.Second), 10)); got != "[A3]" {
				t.Fatalf("claimed %s, want [A3]", got)
			}
			if got := fmt.Sprint(sorted(claim(t, q, "acme", t0.Add(2*time.Second+lease), 10))); got != "[A1 A2]" { // same lease end: any order
				t.Fatalf("after the lease claimed %s, want [A1 A2]", got)
			}
			if got := fmt.Sprint(claim(t, q, "other", t0, 10)); got != "[B1]" {
				t.Fatalf("other account claimed %s", got)
			}
			if got := claim(t, q, "nobody", t0.Add(time.Hour), 10); len(got) != 0 {
				t.Fatalf("unknown account claimed %v", got)
			}
		}},
		{"claim honours max", func(t *testing.T, q Queue) {
			for i := range 5 {
				put(t, q, receipt(fmt.Sprintf("M%d", i), "acme", time.Duration(i)*time.Millisecond))
			}
			now := t0.Add(time.Second)
			if got := fmt.Sprint(claim(t, q, "acme", now, 2)); got != "[M0 M1]" {
				t.Fatalf("claimed %s", got)
			}
			if got := fmt.Sprint(claim(t, q, "acme", now, 10)); got != "[M2 M3 M4]" {
				t.Fatalf("claimed %s", got)
			}
		}},
		{"claimed receipt equals the one put", func(t *testing.T, q Queue) {
			want := receipt("R1", "acme", 0)
			want.Attempts = 3
			put(t, q, want)
			rs, err := q.Claim(ctx, "acme", t0, lease, 1)
			if err != nil || len(rs) != 1 {
				t.Fatalf("Claim = %v %v", rs, err)
			}
			assertSameReceipt(t, rs[0], want)
		}},
		{"put again replaces", func(t *testing.T, q Queue) {
			r := receipt("P1", "acme", time.Hour)
			put(t, q, r)
			r.DueAt = t0
			put(t, q, r)
			if n := qlen(t, q); n != 1 {
				t.Fatalf("Len = %d, want 1", n)
			}
			if got := fmt.Sprint(claim(t, q, "acme", t0, 10)); got != "[P1]" {
				t.Fatalf("claimed %s", got)
			}
		}},
		{"ack removes and remembers", func(t *testing.T, q Queue) {
			r1, r2 := receipt("K1", "acme", 0), receipt("K2", "acme", 0)
			put(t, q, r1, r2)
			claim(t, q, "acme", t0, 10)
			at := t0.Add(5 * time.Second)
			if err := q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: at}, r1, r2, receipt("unknown", "acme", 0)); err != nil {
				t.Fatal(err)
			}
			if n := qlen(t, q); n != 0 {
				t.Fatalf("Len = %d after Ack", n)
			}
			o, ok := lookup(t, q, "K2")
			if !ok || o.State != pdu.StateDelivered || !o.At.Equal(at) {
				t.Fatalf("Lookup = %+v %v", o, ok)
			}
			if got := claim(t, q, "acme", t0.Add(time.Hour), 10); len(got) != 0 {
				t.Fatalf("claimed %v after Ack", got)
			}
			if o, ok := lookup(t, q, "unknown"); !ok || o.State != pdu.StateDelivered {
				t.Fatalf("Lookup of an acked id that was not pending = %+v %v", o, ok)
			}
			if _, ok := lookup(t, q, "never-seen"); ok {
				t.Fatal("unknown id known")
			}
		}},
		{"retry stores attempts and due time, never resurrects", func(t *testing.T, q Queue) {
			r := receipt("T1", "acme", 0)
			put(t, q, r)
			rs, _ := q.Claim(ctx, "acme", t0, lease, 1)
			r = rs[0]
			r.Attempts++
			if err := q.Retry(ctx, r, t0.Add(4*time.Second)); err != nil {
				t.Fatal(err)
			}
			if got := claim(t, q, "acme", t0.Add(3*time.Second), 10); len(got) != 0 {
				t.Fatalf("claimed %v before the retry time", got)
			}
			due, ok, err := q.NextDue(ctx, "acme")
			if err != nil || !ok || !due.Equal(t0.Add(4*time.Second)) {
				t.Fatalf("NextDue = %v %v %v", due, ok, err)
			}
			rs, _ = q.Claim(ctx, "acme", t0.Add(4*time.Second), lease, 1)
			if len(rs) != 1 || rs[0].Attempts != 1 || !rs[0].DueAt.Equal(t0.Add(4*time.Second)) {
				t.Fatalf("after retry claimed %+v", rs)
			}
			if err := q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, rs[0]); err != nil {
				t.Fatal(err)
			}
			if err := q.Retry(ctx, rs[0], t0); err != nil {
				t.Fatal(err)
			}
			if n := qlen(t, q); n != 0 {
				t.Fatalf("Retry brought an acked receipt back (Len %d)", n)
			}
		}},
		{"cancel", func(t *testing.T, q Queue) {
			put(t, q, receipt("C1", "acme", 0))
			for _, want := range []bool{true, false} {
				got, err := q.Cancel(ctx, "acme", "C1", t0)
				if err != nil || got != want {
					t.Fatalf("Cancel = %v %v, want %v", got, err, want)
				}
			}
			if got, err := q.Cancel(ctx, "acme", "nope", t0); err != nil || got {
				t.Fatalf("Cancel unknown = %v %v", got, err)
			}
			if o, ok := lookup(t, q, "C1"); !ok || o.State != pdu.StateDeleted {
				t.Fatalf("Lookup = %+v %v", o, ok)
			}
			if got := claim(t, q, "acme", t0.Add(time.Hour), 10); len(got) != 0 {
				t.Fatalf("claimed cancelled %v", got)
			}
		}},
		{"cancel refuses a receipt whose lease is not over", func(t *testing.T, q Queue) {
			put(t, q, receipt("K1", "acme", 0))
			if got := claim(t, q, "acme", t0, 10); len(got) != 1 {
				t.Fatalf("claimed %v", got)
			}
			if got, err := q.Cancel(ctx, "acme", "K1", t0.Add(time.Second)); err != nil || got {
				t.Fatalf("Cancel while leased = %v %v, want false: it is being sent", got, err)
			}
			if got, err := q.Cancel(ctx, "acme", "K1", t0.Add(lease+time.Second)); err != nil || !got {
				t.Fatalf("Cancel after the lease = %v %v, want true", got, err)
			}
		}},
		{"lookup pending is enroute, with its addresses", func(t *testing.T, q Queue) {
			r := receipt("L1", "acme", time.Hour)
			put(t, q, r)
			if o, ok := lookup(t, q, "L1"); !ok || o.State != pdu.StateEnroute || o.Source != r.Source.Addr || o.Destination != r.Dest.Addr {
				t.Fatalf("Lookup = %+v %v, want ENROUTE from %q to %q", o, ok, r.Source.Addr, r.Dest.Addr)
			}
		}},
		{"next due", func(t *testing.T, q Queue) {
			if _, ok, err := q.NextDue(ctx, "acme"); ok || err != nil {
				t.Fatalf("NextDue on empty = %v %v", ok, err)
			}
			put(t, q, receipt("N2", "acme", 2*time.Second), receipt("N1", "acme", time.Second))
			due, ok, err := q.NextDue(ctx, "acme")
			if err != nil || !ok || !due.Equal(t0.Add(time.Second)) {
				t.Fatalf("NextDue = %v %v %v", due, ok, err)
			}
			claim(t, q, "acme", t0.Add(time.Second), 1) // N1 leased
			due, _, _ = q.NextDue(ctx, "acme")
			if !due.Equal(t0.Add(2 * time.Second)) {
				t.Fatalf("NextDue after claim = %v", due)
			}
		}},
		{"expire", func(t *testing.T, q Queue) {
			e1, e2, keep, never := receipt("E1", "acme", 0), receipt("E2", "other", time.Hour), receipt("E3", "acme", 0), receipt("E4", "acme", 0)
			e1.ExpiresAt, e2.ExpiresAt, keep.ExpiresAt, never.ExpiresAt = t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(time.Hour), time.Time{}
			put(t, q, e1, e2, keep, never)
			claim(t, q, "acme", t0, 10) // leased receipts expire too
			now := t0.Add(2 * time.Minute)
			rs, err := q.Expire(ctx, now, 1)
			if err != nil || len(rs) != 1 {
				t.Fatalf("Expire(max 1) = %v %v", ids(rs), err)
			}
			more, err := q.Expire(ctx, now, 10)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, id := range append(ids(rs), ids(more)...) {
				got[id] = true
			}
			if len(got) != 2 || !got["E1"] || !got["E2"] {
				t.Fatalf("expired %v, want E1 E2", got)
			}
			if n := qlen(t, q); n != 2 {
				t.Fatalf("Len = %d, want 2", n)
			}
			if o, ok := lookup(t, q, "E2"); !ok || o.State != pdu.StateExpired || !o.At.Equal(now) {
				t.Fatalf("Lookup = %+v %v", o, ok)
			}
			if rs, _ := q.Expire(ctx, now, 10); len(rs) != 0 {
				t.Fatalf("expired twice: %v", ids(rs))
			}
		}},
	}
	for _, impl := range queueImpls() {
		t.Run(impl.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, impl.new(t)) })
			}
		})
	}
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}
