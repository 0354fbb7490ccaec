package app

import (
	"context"
	"log/slog"
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
)

// TestTagLeases: live instances get distinct tags; an instance started
// again with the same id gets its own tag back; a tag whose lease expired
// is free again.
func TestTagLeases(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	a, la, err := leaseTag(ctx, rdb, prefix, "gw-a", log)
	if err != nil || la == nil {
		t.Fatalf("gw-a: %v", err)
	}
	seen := map[uint16]string{a: "gw-a"}
	for _, id := range []string{"gw-b", "gw-c", "gw-d"} {
		tag, _, err := leaseTag(ctx, rdb, prefix, id, log)
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := seen[tag]; dup {
			t.Fatalf("%s got tag %d, leased by %s", id, tag, other)
		}
		seen[tag] = id
	}
	again, _, err := leaseTag(ctx, rdb, prefix, "gw-a", log)
	if err != nil || again != a {
		t.Fatalf("gw-a started again got %d (%v), want its tag %d", again, err, a)
	}
	if err := rdb.Del(ctx, tagKey(prefix, int(a))).Err(); err != nil { // the lease expired
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, tagKey(prefix, int(a)), "gw-z", 0).Err(); err != nil { // and someone took it
		t.Fatal(err)
	}
	moved, _, err := leaseTag(ctx, rdb, prefix, "gw-a", log)
	if err != nil || moved == a {
		t.Fatalf("gw-a got %d (%v): a tag leased by another instance", moved, err)
	}
}
