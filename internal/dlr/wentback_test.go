package dlr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// snapshotAccount copies every key of sys under prefix (DUMP), and
// restoreAccount puts them back as they were, the others deleted: Redis
// restarted from an older snapshot, or a failover to a replica that had
// not received the writes since.
func snapshotAccount(t *testing.T, q *RedisQueue, sys string) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys, err := q.c.Keys(ctx, q.accountBase(sys)+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	snap := make(map[string]string, len(keys))
	for _, k := range keys {
		v, err := q.c.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		snap[k] = v
	}
	return snap
}

func restoreAccount(t *testing.T, q *RedisQueue, sys string, snap map[string]string) {
	t.Helper()
	ctx := context.Background()
	keys, err := q.c.Keys(ctx, q.accountBase(sys)+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) > 0 {
		if err := q.c.Del(ctx, keys...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range snap {
		if err := q.c.RestoreReplace(ctx, k, 0, v).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRedisWentBackIsDetected: Redis that lost acknowledged writes while
// the account's epoch marker stayed (an older snapshot, a replica that
// lagged) is found by the next put, whose count number is not above one
// already seen: dlr_redis_went_back_total counts it and the line says how
// many receipts this instance stored after that point. Puts and counts
// in flight together on a Redis that did not go back find nothing.
func TestRedisWentBackIsDetected(t *testing.T) {
	c := redisTestClient(t)
	ctx := context.Background()
	for _, wentBack := range []bool{false, true} {
		t.Run(fmt.Sprintf("went back %v", wentBack), func(t *testing.T) {
			var logBuf bytes.Buffer
			var logMu sync.Mutex
			reg := prometheus.NewRegistry()
			q := NewRedisQueue(c, RedisOptions{Prefix: redisTestPrefix(t, c), Registerer: reg,
				Logger: slog.New(slog.NewJSONHandler(&lockedWriter{w: &logBuf, mu: &logMu}, nil))})
			put := func(id string) {
				t.Helper()
				if err := q.Put(ctx, receipt(id, "acme", 0)); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 3 {
				put(fmt.Sprintf("00000000000000A%d", i))
			}
			if _, err := q.PendingCount(ctx, "acme"); err != nil {
				t.Fatal(err)
			}
			snap := snapshotAccount(t, q, "acme")
			// Puts and counts in flight at once: replies recorded in
			// another order than Redis ran them are not a step back.
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					for i := range 25 {
						if err := q.Put(ctx, receipt(fmt.Sprintf("0000000000%02dB%03d", g, i), "acme", 0)); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Go(func() {
				for range 25 {
					if _, err := q.PendingCounts(ctx, []string{"acme"}); err != nil {
						t.Error(err)
					}
				}
			})
			wg.Wait()
			if wentBack {
				restoreAccount(t, q, "acme", snap)
			}
			put("00000000000000C1")
			want := 0.0
			if wentBack {
				want = 1
			}
			if got := counterValue(t, reg, "dlr_redis_went_back_total"); got != want {
				t.Fatalf("dlr_redis_went_back_total = %v, want %v", got, want)
			}
			if !wentBack {
				return
			}
			logMu.Lock()
			defer logMu.Unlock()
			var line map[string]any
			for _, raw := range bytes.Split(bytes.TrimSpace(logBuf.Bytes()), []byte("\n")) {
				var m map[string]any
				if err := json.Unmarshal(raw, &m); err != nil {
					t.Fatal(err)
				}
				if m["msg"] == "dlr.redis_went_back" {
					line = m
				}
			}
			// The 100 stored after the snapshot; the put that found it
			// is in the new history.
			if line == nil || line["stored_after"] != float64(100) || line["system_id"] != "acme" {
				t.Fatalf("dlr.redis_went_back line %v, want stored_after 100 for acme", line)
			}
			// Once: the next put and count find the new history.
			put("00000000000000C2")
			if _, err := q.PendingCount(ctx, "acme"); err != nil {
				t.Fatal(err)
			}
			if got := counterValue(t, reg, "dlr_redis_went_back_total"); got != 1 {
				t.Fatalf("dlr_redis_went_back_total = %v after the next put and count, want 1", got)
			}
		})
	}
}

// lockedWriter serialises writes of several goroutines' log lines.
type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestWentBackComparesWaitedNumbersOnly: with REDIS_WAIT_REPLICAS a put
// or count is compared with the numbers this instance's puts took (those
// were replicated with the receipts), not with a count's or an ack's,
// which a failover may lose without losing a receipt.
func TestWentBackComparesWaitedNumbersOnly(t *testing.T) {
	for _, tt := range []struct {
		wait int
		want int64
	}{{0, 12}, {1, 9}} {
		q := &RedisQueue{o: RedisOptions{WaitReplicas: tt.wait}, shares: map[string]*lossShares{}}
		sh := q.shareLocked("acme")
		sh.wrote(9, 3, time.Now())    // a put took 9
		sh.wrote(11, -1, time.Now())  // an ack read 11
		sh.counted(12, 2, time.Now()) // a count took 12
		if got := q.seenLocked("acme"); got != tt.want {
			t.Errorf("WaitReplicas %d: seen %d, want %d", tt.wait, got, tt.want)
		}
		if got := q.seenLocked("other"); got != 0 {
			t.Errorf("an account never seen: %d, want 0", got)
		}
	}
}
