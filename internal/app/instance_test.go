package app

import (
	"context"
	"log/slog"
	"testing"
	"time"

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
