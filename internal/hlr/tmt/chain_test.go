package tmt_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

// fakeClock is the chain's clock and the memory tier's (otter) clock.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time                      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) NowNano() int64                      { return c.ns.Load() }
func (c *fakeClock) Tick(time.Duration) <-chan time.Time { return nil }
func (c *fakeClock) Advance(d time.Duration)             { c.ns.Add(int64(d)) }

// TestTemporaryAnswerIsLookedUpAgain: through the real client and a fake
// TMT, an absent subscriber is asked again once the temporary lifetime has
// passed, while an invalid number stays cached.
func TestTemporaryAnswerIsLookedUpAgain(t *testing.T) {
	perNumber := map[string]*atomic.Int64{"40722570227": {}, "40722570240999": {}}
	f := newFakeTMT(t, func(w http.ResponseWriter, r *http.Request) {
		n := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		perNumber[n].Add(1)
		if n == "40722570227" {
			fmt.Fprintf(w, `{"%s":{"number":%s,"status":0,"error":27,"present":"no","type":"mobile"}}`, n, n)
			return
		}
		fmt.Fprintf(w, `{"%s":{"status":1,"status_message":"Invalid Number","error":0}}`, n)
	})
	clk := &fakeClock{}
	clk.ns.Store(time.Unix(1_800_000_000, 0).UnixNano())
	mem, err := cache.NewMemory[hlr.Result](100, cache.MemoryOptions{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	chain, err := hlr.NewChain(newClient(t, f.srv.URL, nil, 5*time.Second), hlr.ChainOptions{
		Memory: mem, TTL: 24 * time.Hour, TemporaryTTL: 15 * time.Minute, Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	lookupBoth := func() {
		t.Helper()
		for n := range perNumber {
			if _, err := chain.Lookup(context.Background(), n); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(when string, absent, invalid int64) {
		t.Helper()
		if a, i := perNumber["40722570227"].Load(), perNumber["40722570240999"].Load(); a != absent || i != invalid {
			t.Fatalf("%s: requests absent=%d invalid=%d, want %d and %d", when, a, i, absent, invalid)
		}
	}
	lookupBoth()
	lookupBoth()
	check("at first", 1, 1)
	clk.Advance(15*time.Minute - time.Second)
	lookupBoth()
	check("just before the temporary TTL", 1, 1)
	clk.Advance(2 * time.Second)
	lookupBoth()
	check("after the temporary TTL", 2, 1)
	if got := f.requests.Load(); got != 3 {
		t.Fatalf("TMT requests = %d, want 3", got)
	}
}
