package dlr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
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

// firstReceiptsSnapshot puts three receipts of acme (A0…A2) with put,
// counts the account (a count's number is in the snapshot too) and
// returns the account's keys as they are then (snapshotAccount).
func firstReceiptsSnapshot(t *testing.T, q *RedisQueue, put func(id string)) map[string]string {
	t.Helper()
	for i := range 3 {
		put(fmt.Sprintf("00000000000000A%d", i))
	}
	if _, err := q.PendingCount(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	return snapshotAccount(t, q, "acme")
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
			snap := firstReceiptsSnapshot(t, q, put)
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
			// The other instances are told through the account's epoch
			// marker, rewritten as a went-back marker naming the sequence
			// found (by a goroutine of its own: polled, bounded).
			epochKey := q.epochKey("acme")
			var marker string
			for range 200 {
				if marker, _ = c.Get(ctx, epochKey).Result(); strings.HasPrefix(marker, "wb:") {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if _, ok := wentBackFound(marker); !ok || marker != q.wentBackAt["acme"].marker {
				t.Fatalf("epoch marker %q after the finding, want the went-back marker %q", marker, q.wentBackAt["acme"].marker)
			}
			// Only in place of the marker the finding was made under.
			if n, err := q.s.markWentBack.Run(ctx, c, []string{epochKey}, "another", "wb:x/1").Int(); err != nil || n != 0 {
				t.Fatalf("a went-back marker over another marker: %d %v, want 0", n, err)
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
		q, reg := newUnreachableQueue(t)
		q.newEpoch = "M2"
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

// newUnreachableQueue is a RedisQueue whose Redis never answers (its
// went-back markers are not written), knowing the account acme under the
// marker M1/0, with its metrics on the registry returned.
func newUnreachableQueue(t *testing.T) (*RedisQueue, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	q := NewRedisQueue(c, RedisOptions{Registerer: reg})
	q.epochs["acme"] = "M1/0"
	return q, reg
}

// TestWentBackToldToTheOtherInstances: the instance that finds Redis
// going back writes a went-back marker naming the sequence found; another
// instance that had seen the former marker reports it at its next reply,
// with its own receipts stored after that sequence, although its own
// numbers would not have shown it (the sequence was taken past them). The
// writer does not report it twice, nor does an instance that found it
// itself.
func TestWentBackToldToTheOtherInstances(t *testing.T) {
	a, regA := newUnreachableQueue(t)
	b, regB := newUnreachableQueue(t)
	c, regC := newUnreachableQueue(t)
	now := time.Now()
	for _, q := range []*RedisQueue{a, b, c} {
		q.shareLocked("acme").counted(4*countStride, 10, now)
	}
	a.shareLocked("acme").wrote(4*countStride+9, 5, now)
	b.shareLocked("acme").wrote(4*countStride+20, 7, now) // B stored 7 after the point Redis came back at
	c.shareLocked("acme").wrote(4*countStride+30, 4, now)
	// A finds Redis back at 4K+2 (below its 4K+9) and C too, by itself.
	a.checkSeqLocked("acme", "M1/0", false, 4*countStride+2, a.seqCheckLocked("acme"))
	c.checkSeqLocked("acme", "M1/0", false, 4*countStride+3, c.seqCheckLocked("acme"))
	marker := a.wentBackAt["acme"].marker
	if found, ok := wentBackFound(marker); !ok || found != 4*countStride+2 {
		t.Fatalf("A's marker %q: found %d %v, want 4K+2", marker, found, ok)
	}
	// Every instance's next reply brings A's marker.
	for _, q := range []*RedisQueue{a, b, c} {
		q.epochSeenLocked("acme", marker, false)
		q.epochSeenLocked("acme", marker, false) // a second reply with it
	}
	for name, reg := range map[string]*prometheus.Registry{"A": regA, "B": regB, "C": regC} {
		if got := counterValue(t, reg, "dlr_redis_went_back_total"); got != 1 {
			t.Errorf("%s: dlr_redis_went_back_total = %v, want 1", name, got)
		}
		if got := metric(t, reg, "dlr_lost_total", "cause="+LostRedisDataLoss); got != 0 {
			t.Errorf("%s: dlr_lost_total{redis_data_loss} = %v, want 0: not a loss of the account", name, got)
		}
	}
	if b.shares["acme"] != nil {
		t.Error("B kept the history Redis went back from")
	}
	// An instance that never saw a marker of the account (started since)
	// takes it as the marker, nothing more.
	d, regD := newUnreachableQueue(t)
	delete(d.epochs, "acme")
	d.epochSeenLocked("acme", marker, false)
	if got := counterValue(t, regD, "dlr_redis_went_back_total"); got != 0 || d.epochs["acme"] != marker {
		t.Errorf("a new instance: dlr_redis_went_back_total = %v, marker %q; want 0, %q", got, d.epochs["acme"], marker)
	}
}
