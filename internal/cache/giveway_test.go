package cache_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
)

// fakeNow is a settable clock for the cache.
type fakeNow struct{ t atomic.Pointer[time.Time] }

func newFakeNow() *fakeNow {
	f := &fakeNow{}
	now := time.Unix(1000, 0)
	f.t.Store(&now)
	return f
}
func (f *fakeNow) Now() time.Time { return *f.t.Load() }
func (f *fakeNow) add(d time.Duration) {
	now := f.Now().Add(d)
	f.t.Store(&now)
}

// TestGiveWayShedsOwnKeysAndStopsWriting: after GiveWay (the receipts were
// refused for lack of memory) the cache removes up to 1,000 of its own
// keys, none of anyone else's, and writes nothing for 30 s; its reads go
// on; then it writes again.
func TestGiveWayShedsOwnKeysAndStopsWriting(t *testing.T) {
	client, prefix := redistest.Client(t)
	clock := newFakeNow()
	r := cache.NewRedis(client, cache.RedisOptions{Prefix: prefix, Now: clock.Now})
	ctx := context.Background()
	const mine = 1500
	p := client.Pipeline()
	for i := range mine {
		p.Set(ctx, prefix+strconv.Itoa(4470000000+i), "v", time.Hour)
	}
	other := prefix[:len(prefix)-1] + "-other:" // shares the start, not the prefix
	for i := range 10 {
		p.Set(ctx, other+strconv.Itoa(i), "v", time.Hour)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteMatching(t, client, other+"*") })

	r.GiveWay()
	r.WaitShed()
	if got := countMatching(t, client, cache.GlobEscape(prefix)+"*"); got != mine-1000 {
		t.Errorf("cache keys left after one pass = %d, want %d", got, mine-1000)
	}
	if got := countMatching(t, client, other+"*"); got != 10 {
		t.Errorf("other keys left = %d, want 10", got)
	}
	if r.Shed() != 1000 {
		t.Errorf("Shed() = %d, want 1000", r.Shed())
	}
	// A second GiveWay within a second starts no pass.
	r.GiveWay()
	r.WaitShed()
	if r.Shed() != 1000 {
		t.Errorf("Shed() after a second GiveWay within 1 s = %d, want 1000", r.Shed())
	}

	if err := r.Set(ctx, "4479000001", []byte("v"), time.Minute); !errors.Is(err, cache.ErrGivingWay) {
		t.Fatalf("Set while giving way = %v, want ErrGivingWay", err)
	}
	if n, _ := client.Exists(ctx, prefix+"4479000001").Result(); n != 0 {
		t.Fatal("Set while giving way wrote the key")
	}
	left := countMatching(t, client, cache.GlobEscape(prefix)+"*")
	// One of the keys the pass kept (not a SCAN page: one may hold no
	// match while other tests fill the database).
	var some string
	for i := range mine {
		if n, err := client.Exists(ctx, prefix+strconv.Itoa(4470000000+i)).Result(); err == nil && n == 1 {
			some = strconv.Itoa(4470000000 + i)
			break
		}
	}
	if _, ok, err := r.Get(ctx, some); left > 0 && (!ok || err != nil) {
		t.Errorf("Get of a kept key while giving way: ok=%v err=%v", ok, err)
	}

	clock.add(31 * time.Second)
	if err := r.Set(ctx, "4479000001", []byte("v"), time.Minute); err != nil {
		t.Fatalf("Set 31 s after GiveWay = %v", err)
	}
	// A later GiveWay sheds again (more than a second since the last).
	r.GiveWay()
	r.WaitShed()
	if got := countMatching(t, client, cache.GlobEscape(prefix)+"*"); got != 0 {
		t.Errorf("cache keys left after a second pass = %d, want 0", got)
	}
}

func TestGlobEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"hlr:", "hlr:"},
		{"gw*1:hlr:", `gw\*1:hlr:`},
		{`a?b[c]d\e`, `a\?b\[c\]d\\e`},
	} {
		if got := cache.GlobEscape(tc.in); got != tc.want {
			t.Errorf("GlobEscape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestGiveWayShedsOnEveryClusterMaster: on a Cluster a pass removes the
// cache's keys from every master.
func TestGiveWayShedsOnEveryClusterMaster(t *testing.T) {
	c, ms := redistest.Cluster(t, 2)
	const prefix = "hlr:"
	r := cache.NewRedis(c, cache.RedisOptions{Prefix: prefix})
	ctx := context.Background()
	for _, m := range ms {
		k := keyOn(t, c, prefix, m.Addr) // at least one key on each master
		for i := range 5 {
			for _, key := range []string{k, k + fmt.Sprint(i)} {
				if err := r.Set(ctx, key, []byte("v"), time.Minute); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	r.GiveWay()
	r.WaitShed()
	var left atomic.Int64
	err := c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		keys, err := n.Keys(ctx, prefix+"*").Result()
		left.Add(int64(len(keys)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if left.Load() != 0 || r.Shed() == 0 {
		t.Errorf("keys left on the masters = %d, shed %d; want 0 left", left.Load(), r.Shed())
	}
}

func countMatching(t *testing.T, c redis.UniversalClient, pattern string) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		n++
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

func deleteMatching(t *testing.T, c redis.UniversalClient, pattern string) {
	ctx := context.Background()
	iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		c.Del(ctx, iter.Val())
	}
}
