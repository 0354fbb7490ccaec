package dlr

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestConcurrentPutsShareBatches stores receipts from many goroutines at
// once, so they go out in shared pipelines, and checks every one is there
// with its own account.
func TestConcurrentPutsShareBatches(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q Queue) {
		ctx := context.Background()
		const workers, each = 32, 50
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					sys := fmt.Sprintf("acct%d", w%3)
					if err := q.Put(ctx, receipt(fmt.Sprintf("%016X", w*each+i+1), sys, 0)); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n, err := q.Len(ctx); err != nil || n != workers*each {
			t.Fatalf("Len = %d %v, want %d", n, err, workers*each)
		}
		for i := range workers * each {
			if o, ok, err := q.Lookup(ctx, fmt.Sprintf("acct%d", (i/each)%3), fmt.Sprintf("%016X", i+1)); err != nil || !ok || o.State != pdu.StateEnroute {
				t.Fatalf("receipt %d: %+v %v %v, want pending", i+1, o, ok, err)
			}
		}
		for a := range 3 {
			rs, err := q.Claim(ctx, fmt.Sprintf("acct%d", a), t0.Add(1e12), 0, workers*each)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.SystemID != fmt.Sprintf("acct%d", a) {
					t.Fatalf("account acct%d claimed a receipt of %s", a, r.SystemID)
				}
			}
		}
	})
}

// TestPutSurvivesScriptCacheFlush: after Redis loses its script cache (a
// restart, SCRIPT FLUSH) batches sent by hash fail with NOSCRIPT; the
// queue must resend the script text, not fail the submit.
func TestPutSurvivesScriptCacheFlush(t *testing.T) {
	c := redisTestClient(t)
	q := NewRedisQueue(c, RedisOptions{Prefix: redisTestPrefix(t, c)})
	ctx := context.Background()
	if err := q.Put(ctx, receipt("00000000000000F1", "acme", 0)); err != nil {
		t.Fatal(err)
	}
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, receipt("00000000000000F2", "acme", 0)); err != nil {
		t.Fatalf("Put after SCRIPT FLUSH: %v", err)
	}
	if n, _ := q.Len(ctx); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
	// The claim, sent by hash too, must also resend its text.
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := q.Claim(ctx, "acme", t0, time.Minute, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("Claim after SCRIPT FLUSH = %d receipts, %v; want 2", len(got), err)
	}
}

func TestLookupTellsTheOwner(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q Queue) {
		ctx := context.Background()
		pending, done := receipt("00000000000000D1", "alice", 0), receipt("00000000000000D2", "alice", 0)
		for _, r := range []Receipt{pending, done} {
			if err := q.Put(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, done); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{pending.MessageID, done.MessageID} {
			if o, ok, err := q.Lookup(ctx, "alice", id); err != nil || !ok || o.SystemID != "alice" {
				t.Fatalf("Lookup(%s) = %+v %v %v, want owner alice", id, o, ok, err)
			}
			if o, ok, err := q.Lookup(ctx, "mallory", id); err != nil || ok {
				t.Fatalf("Lookup(%s) by another account = %+v %v %v, want unknown", id, o, ok, err)
			}
		}
	})
}
