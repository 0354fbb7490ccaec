package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
)

// TestTagLeases: live processes get distinct tags, also two processes of
// one instance (a restart while the old process still drains); a tag
// whose lease expired is free again.
func TestTagLeases(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	a, la, err := leaseTag(ctx, rdb, prefix, "gw-a", log)
	if err != nil || la == nil {
		t.Fatalf("gw-a: %v", err)
	}
	seen := map[uint16]string{a: "gw-a"}
	for _, id := range []string{"gw-b", "gw-c", "gw-a"} {
		tag, _, err := leaseTag(ctx, rdb, prefix, id, log)
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := seen[tag]; dup {
			t.Fatalf("%s got tag %d, leased by a live %s", id, tag, other)
		}
		seen[tag] = id
	}
	if err := rdb.Del(ctx, tagKey(prefix, int(a))).Err(); err != nil { // the first lease expired
		t.Fatal(err)
	}
	again, _, err := leaseTag(ctx, rdb, prefix, "gw-a", log)
	if err != nil || again != a {
		t.Fatalf("gw-a started again got %d (%v), want the free tag %d", again, err, a)
	}
}

// TestTagLeaseRefresh: a refresh extends this process's lease, takes a
// lapsed one back, and leaves a lease another process took meanwhile
// alone, reporting its holder.
func TestTagLeaseRefresh(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ctx := context.Background()
	_, l, err := leaseTag(ctx, rdb, prefix, "gw-r", slog.New(slog.DiscardHandler))
	if err != nil || l == nil {
		t.Fatalf("lease: %v", err)
	}
	if err := rdb.PExpire(ctx, l.key, 50*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	if other, err := l.refresh(ctx); err != nil || other != "" {
		t.Fatalf("refresh of its own lease: other %q, %v", other, err)
	}
	if ttl := rdb.PTTL(ctx, l.key).Val(); ttl < tagLeaseTTL-5*time.Second {
		t.Fatalf("lease TTL after refresh %v, want about %v", ttl, tagLeaseTTL)
	}
	if err := rdb.Del(ctx, l.key).Err(); err != nil { // lapsed while Redis was away
		t.Fatal(err)
	}
	if other, err := l.refresh(ctx); err != nil || other != "" {
		t.Fatalf("refresh of a lapsed lease: other %q, %v", other, err)
	}
	if h := rdb.Get(ctx, l.key).Val(); h != l.id {
		t.Fatalf("holder after taking the lapsed lease back %q, want %q", h, l.id)
	}
	if err := rdb.Set(ctx, l.key, "gw-other/1", tagLeaseTTL).Err(); err != nil {
		t.Fatal(err)
	}
	if other, err := l.refresh(ctx); err != nil || other != "gw-other/1" {
		t.Fatalf("refresh of a lease taken by another: other %q, %v", other, err)
	}
	if h := rdb.Get(ctx, l.key).Val(); h != "gw-other/1" {
		t.Fatalf("the other process's lease was overwritten: holder %q", h)
	}
}

// TestUnleasedTagIsLeasedOrChanged: a process that started while Redis
// was unreachable mints ids with a random tag it does not hold. Its next
// step leases that tag when it is free; when another process holds it, it
// leases a free tag and switches the id generator to it. It used to keep
// the unleased tag for good, so a process started later could lease the
// same tag and both minted the same ids.
func TestUnleasedTagIsLeasedOrChanged(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	unleased := func(tag uint16) (*tagLease, *[]uint16) {
		// What leaseTag returns when Redis fails.
		l, err := newUnleasedForTest(rdb, prefix, "gw-late", tag, log)
		if err != nil {
			t.Fatal(err)
		}
		var switched []uint16
		l.setTag = func(n uint16) { switched = append(switched, n) }
		return l, &switched
	}

	free, switched := unleased(100)
	free.step(ctx)
	if h := rdb.Get(ctx, tagKey(prefix, 100)).Val(); h != free.id || len(*switched) != 0 || free.tag != 100 {
		t.Fatalf("a free tag in use: holder %q, switched to %v, tag %d; want it leased as it is", h, *switched, free.tag)
	}

	if err := rdb.Set(ctx, tagKey(prefix, 200), "gw-early/1", tagLeaseTTL).Err(); err != nil {
		t.Fatal(err)
	}
	taken, switched := unleased(200)
	taken.step(ctx)
	if len(*switched) != 1 || (*switched)[0] == 200 || (*switched)[0] != taken.tag {
		t.Fatalf("a tag another process holds: switched to %v (tag now %d), want one switch to a free tag", *switched, taken.tag)
	}
	if h := rdb.Get(ctx, tagKey(prefix, int(taken.tag))).Val(); h != taken.id {
		t.Fatalf("the new tag %d is held by %q, want this process", taken.tag, h)
	}
	if h := rdb.Get(ctx, tagKey(prefix, 200)).Val(); h != "gw-early/1" {
		t.Fatalf("the other process's lease was overwritten: %q", h)
	}
}

// newUnleasedForTest is leaseTag's result when Redis failed: tag, not
// leased.
func newUnleasedForTest(rdb redis.UniversalClient, prefix, instance string, tag uint16, log *slog.Logger) (*tagLease, error) {
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer down.Close()
	_, l, err := leaseTag(context.Background(), down, prefix, instance, log)
	if err == nil || l == nil || l.key != "" {
		return nil, fmt.Errorf("leaseTag without Redis: lease %+v, err %v; want an unleased tag and the error", l, err)
	}
	l.rdb, l.tag = rdb, tag
	return l, nil
}

// TestTagTakenLoggedOncePerHolder: while no free tag can be leased (all
// 4,096 held), every step finds the tag in use taken again; the ERROR is
// logged once for that holder, not at every step.
func TestTagTakenLoggedOncePerHolder(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ctx := context.Background()
	var logged countingHandler
	l, err := newUnleasedForTest(rdb, prefix, "gw-full", 300, slog.New(&logged))
	if err != nil {
		t.Fatal(err)
	}
	_, err = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for n := range tagCount {
			p.Set(ctx, tagKey(prefix, n), fmt.Sprintf("gw-other/%d", n), tagLeaseTTL)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		l.step(ctx)
	}
	if got := logged.count("gateway.instance_tag_taken"); got != 1 {
		t.Fatalf("gateway.instance_tag_taken logged %d times in 3 steps, want once", got)
	}
	if l.tag != 300 {
		t.Fatalf("tag %d, want 300 kept while no tag is free", l.tag)
	}
}

// countingHandler counts the records logged by message.
type countingHandler struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == nil {
		h.n = map[string]int{}
	}
	h.n[r.Message]++
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
func (h *countingHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[msg]
}
