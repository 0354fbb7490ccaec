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
// lagged) is found by the next put, which finds the count sequence below one
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
	}{{0, 2 * countStride}, {1, countStride + 9}} {
		q := &RedisQueue{o: RedisOptions{WaitReplicas: tt.wait}, shares: map[string]*lossShares{}}
		sh := q.shareLocked("acme")
		sh.counted(countStride, 2, time.Now())
		sh.wrote(countStride+9, 3, time.Now())   // a put took it
		sh.wrote(countStride+11, -1, time.Now()) // an ack read it
		sh.counted(2*countStride, 2, time.Now())
		if got := q.seqCheckLocked("acme").seen; got != tt.want {
			t.Errorf("WaitReplicas %d: seen %d, want %d", tt.wait, got, tt.want)
		}
		if got := q.seqCheckLocked("other").seen; got != 0 {
			t.Errorf("an account never seen: %d, want 0", got)
		}
	}
}

// TestWentBackJudgedOncePerHistory: a call built before its account's
// history ended (Redis found to have lost the account, or to have gone
// back, from another reply) is not judged against the old numbers: Redis
// restarted empty is counted as a loss only, and Redis going back once is
// counted once however many calls were in flight.
func TestWentBackJudgedOncePerHistory(t *testing.T) {
	newQ := func() (*RedisQueue, *prometheus.Registry) {
		reg := prometheus.NewRegistry()
		q := &RedisQueue{shares: map[string]*lossShares{}, epochs: map[string]string{"acme": "M1/0"},
			log: slog.New(slog.DiscardHandler), newEpoch: "M2"}
		q.wentBack = prometheus.NewCounter(prometheus.CounterOpts{Name: "dlr_redis_went_back_total"})
		reg.MustRegister(q.wentBack)
		now := time.Now()
		q.shareLocked("acme").counted(4*countStride, 10, now)
		q.shareLocked("acme").wrote(4*countStride+3, 2, now)
		return q, reg
	}
	t.Run("restarted empty while a count was in flight", func(t *testing.T) {
		q, reg := newQ()
		count := q.seqCheckLocked("acme")
		// A commit in flight with it finds the marker gone first.
		q.epochSeenLocked("acme", "M2/4194304", true)
		q.checkSeqLocked("acme", "M2/4194304", false, 1, count)
		if got := counterValue(t, reg, "dlr_redis_went_back_total"); got != 0 {
			t.Fatalf("dlr_redis_went_back_total = %v, want 0: a loss, counted as one", got)
		}
	})
	t.Run("no count lost, a count first after the restart", func(t *testing.T) {
		// Redis came back at 4K+3 (the snapshot), after this instance had
		// put at 4K+3 and then up to 4K+17: the count takes 5K, which
		// would have come anyway, but found 4K+3, below what was seen.
		q, reg := newQ()
		q.shareLocked("acme").wrote(4*countStride+17, 14, time.Now())
		count := q.seqCheckLocked("acme")
		q.checkSeqLocked("acme", "M1/0", false, 4*countStride+3, count)
		if got := counterValue(t, reg, "dlr_redis_went_back_total"); got != 1 {
			t.Fatalf("dlr_redis_went_back_total = %v, want 1", got)
		}
	})
	t.Run("went back with two calls in flight", func(t *testing.T) {
		q, reg := newQ()
		put, count := q.seqCheckLocked("acme"), q.seqCheckLocked("acme")
		q.checkSeqLocked("acme", "M1/0", false, 4*countStride, put)     // the put found 4K: below 4K+3
		q.checkSeqLocked("acme", "M1/0", false, 4*countStride+1, count) // the count after it: the history ended
		if got := counterValue(t, reg, "dlr_redis_went_back_total"); got != 1 {
			t.Fatalf("dlr_redis_went_back_total = %v, want 1", got)
		}
		// A call of the new history finding a sequence above what it saw
		// is no going back.
		q.checkSeqLocked("acme", "M1/0", false, 4*countStride+5, q.seqCheckLocked("acme"))
		if got := counterValue(t, reg, "dlr_redis_went_back_total"); got != 1 {
			t.Fatalf("dlr_redis_went_back_total = %v, want 1", got)
		}
	})
}

// TestNetsOneEntryPerCount: every put takes a number of its own, but an
// instance keeps one entry per count it came after, not one per put.
func TestNetsOneEntryPerCount(t *testing.T) {
	var sh lossShares
	now := time.Now()
	for c := int64(1); c <= 3; c++ {
		sh.counted(c*countStride, 0, now)
		for i := int64(1); i <= 2000; i++ {
			sh.wrote(c*countStride+i, 1, now)
		}
	}
	if len(sh.nets) != 3 || sh.since(2*countStride) != 4000 || sh.storedSince(3*countStride) != 2000 {
		t.Fatalf("%d entries, %d since count 2, %d stored since count 3; want 3, 4000, 2000", len(sh.nets), sh.since(2*countStride), sh.storedSince(3*countStride))
	}
}
