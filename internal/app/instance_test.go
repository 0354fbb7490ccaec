package app

import (
	"context"
	"log/slog"
	"testing"

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
