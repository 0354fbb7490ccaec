package dlr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
// lagged) is found by the next put, which finds this instance's put
// number below one it was acknowledged for: dlr_redis_went_back_total
// counts it and the line says which number Redis came back with. Puts
// and counts in flight together on a Redis that did not go back find
// nothing.
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
			// Back at the snapshot's three puts, below the puts of the
			// 100 stored after it.
			if line == nil || line["put_number_found"] != float64(3) || line["seen"].(float64) <= 3 || line["system_id"] != "acme" {
				t.Fatalf("dlr.redis_went_back line %v, want put_number_found 3, seen above it, for acme", line)
			}
			// The other instances are told through the account's epoch
			// marker, rewritten as a went-back marker naming the number
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

// TestWentBackComparesOwnPutNumbers: a put or count is compared with
// the highest put number of this instance's acknowledged puts, whatever
// the counts and acks took of the account's count sequence (a count run
// on a Redis that went back takes the next multiple above what it held
// and would hide the loss), and not with one older than ownPutForget
// (Redis lets the number expire 10 minutes after the last put).
func TestWentBackComparesOwnPutNumbers(t *testing.T) {
	now := time.Now()
	q := &RedisQueue{shares: map[string]*lossShares{}}
	sh := q.shareLocked("acme")
	sh.counted(countStride, 2, now)
	sh.wrote(countStride+9, 3, now) // a put took it, and put number 7
	sh.putNumber(7, now)
	sh.putNumber(5, now)              // a reply recorded late
	sh.wrote(countStride+11, -1, now) // an ack read it
	sh.counted(2*countStride, 2, now)
	if got := q.seqCheckLocked("acme").seen; got != 7 {
		t.Errorf("seen %d, want 7", got)
	}
	if got := q.seqCheckLocked("other").seen; got != 0 {
		t.Errorf("an account never seen: %d, want 0", got)
	}
	sh.ownAt = now.Add(-ownPutForget)
	if got := q.seqCheckLocked("acme").seen; got != 0 {
		t.Errorf("a put number %v old: seen %d, want 0", ownPutForget, got)
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
		q.shareLocked("acme").putNumber(3, now)
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
	t.Run("a count finds the put number below what was seen", func(t *testing.T) {
		q, reg := newQ()
		q.shareLocked("acme").putNumber(17, time.Now())
		count := q.seqCheckLocked("acme")
		q.checkSeqLocked("acme", "M1/0", false, 3, count)
		if got := counterValue(t, reg, "dlr_redis_went_back_total"); got != 1 {
			t.Fatalf("dlr_redis_went_back_total = %v, want 1", got)
		}
	})
	t.Run("another instance's went-back marker in the reply", func(t *testing.T) {
		// The same data, gone back: still judged.
		q, reg := newQ()
		q.checkSeqLocked("acme", "wb:x/9", false, 1, q.seqCheckLocked("acme"))
		if got := counterValue(t, reg, "dlr_redis_went_back_total"); got != 1 {
			t.Fatalf("dlr_redis_went_back_total = %v, want 1", got)
		}
	})
	t.Run("went back with two calls in flight", func(t *testing.T) {
		q, reg := newQ()
		put, count := q.seqCheckLocked("acme"), q.seqCheckLocked("acme")
		q.checkSeqLocked("acme", "M1/0", false, 0, put)   // the put found 0: below 3
		q.checkSeqLocked("acme", "M1/0", false, 1, count) // the count after it: the history ended
		if got := counterValue(t, reg, "dlr_redis_went_back_total"); got != 1 {
			t.Fatalf("dlr_redis_went_back_total = %v, want 1", got)
		}
		// A call of the new history finding a number above what it saw
		// is no going back.
		q.shareLocked("acme").putNumber(2, time.Now())
		q.checkSeqLocked("acme", "M1/0", false, 5, q.seqCheckLocked("acme"))
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
// going back writes a went-back marker naming the put number found;
// another instance that had seen the former marker logs it at its next
// reply (dlr.redis_went_back_told) but counts nothing: its own put number
// showed it lost none of its puts. An instance that found a loss of its
// own puts by itself counts it once, and is not told again.
func TestWentBackToldToTheOtherInstances(t *testing.T) {
	a, regA := newUnreachableQueue(t)
	b, regB := newUnreachableQueue(t)
	c, regC := newUnreachableQueue(t)
	now := time.Now()
	for _, q := range []*RedisQueue{a, b, c} {
		q.shareLocked("acme").counted(4*countStride, 10, now)
	}
	a.shareLocked("acme").putNumber(9, now)
	b.shareLocked("acme").putNumber(4, now)
	c.shareLocked("acme").putNumber(6, now)
	// A finds Redis back at its put number 2 (below its 9) and C at its 3.
	a.checkSeqLocked("acme", "M1/0", false, 2, a.seqCheckLocked("acme"))
	c.checkSeqLocked("acme", "M1/0", false, 3, c.seqCheckLocked("acme"))
	// B's reply shows its number as it was.
	b.checkSeqLocked("acme", "M1/0", false, 4, b.seqCheckLocked("acme"))
	marker := a.wentBackAt["acme"].marker
	if found, ok := wentBackFound(marker); !ok || found != 2 {
		t.Fatalf("A's marker %q: found %d %v, want 2", marker, found, ok)
	}
	// Every instance's next reply brings A's marker.
	for _, q := range []*RedisQueue{a, b, c} {
		q.epochSeenLocked("acme", marker, false)
		q.epochSeenLocked("acme", marker, false) // a second reply with it
	}
	for name, tt := range map[string]struct {
		reg  *prometheus.Registry
		want float64
	}{"A": {regA, 1}, "B": {regB, 0}, "C": {regC, 1}} {
		if got := counterValue(t, tt.reg, "dlr_redis_went_back_total"); got != tt.want {
			t.Errorf("%s: dlr_redis_went_back_total = %v, want %v", name, got, tt.want)
		}
		if got := metric(t, tt.reg, "dlr_lost_total", "cause="+LostRedisDataLoss); got != 0 {
			t.Errorf("%s: dlr_lost_total{redis_data_loss} = %v, want 0: not a loss of the account", name, got)
		}
	}
	// B's counts belong to the history Redis went back from; its put
	// number stays, for its next call to judge (a call in flight may
	// have been built before its last put was acknowledged).
	if sh := b.shares["acme"]; sh == nil || sh.countSeq != 0 || sh.ownPut != 4 || b.wentBackAt["acme"].marker != marker {
		t.Errorf("B: shares %+v, marker %q: want no count, put number 4 kept, marker %q", sh, b.wentBackAt["acme"].marker, marker)
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

// TestWentBackPutNumberTakenTwice: two group commits of an account built
// before either reply (both judged against put number 3) took the same
// number 4: one on the old master, acknowledged there, the other on the
// master just promoted, which had only 3. Neither found its number below
// what was seen; the number taken twice says Redis went back, and the
// receipts of the old master's put are put again, in whichever order the
// replies are recorded, also when the promoted master's WAIT failed.
func TestWentBackPutNumberTakenTwice(t *testing.T) {
	for _, tt := range []struct {
		name          string
		oldFirst      bool
		promotedAcked bool
		want          []string
	}{
		{"old master's reply first", true, true, []string{"A1", "A2", "B1"}},
		{"promoted master's reply first", false, true, []string{"A1", "A2", "B1"}},
		{"promoted master's WAIT failed, its reply first", false, false, []string{"A1", "A2"}},
		{"promoted master's WAIT failed, its reply last", true, false, []string{"A1", "A2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q, reg := newUnreachableQueue(t)
			replayed := make(chan []Receipt, 1)
			q.enableReplay(100, func(_ string, rs []Receipt) { replayed <- rs })
			q.mu.Lock()
			q.shareLocked("acme").putNumber(3, time.Now())
			q.mu.Unlock()
			old, promoted := builtPut(q, 4, "A1", "A2"), builtPut(q, 4, "B1")
			if !tt.promotedAcked {
				promoted.failWait()
			}
			if tt.oldFirst {
				q.recordGroups([]*putGroup{old})
				q.recordGroups([]*putGroup{promoted})
			} else {
				q.recordGroups([]*putGroup{promoted})
				q.recordGroups([]*putGroup{old})
			}
			if got := counterValue(t, reg, "dlr_redis_went_back_total"); got != 1 {
				t.Fatalf("dlr_redis_went_back_total = %v, want 1", got)
			}
			var ids []string
			select {
			case rs := <-replayed:
				for _, r := range rs {
					ids = append(ids, r.MessageID)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("nothing put again")
			}
			slices.Sort(ids)
			if !slices.Equal(ids, tt.want) {
				t.Errorf("put again %v, want %v", ids, tt.want)
			}
		})
	}
}

// TestWentBackNotForAnUnacknowledgedPut: a put whose WAIT failed on a
// master cut off from its replicas (its receipts wait in the outage
// buffer) took number 4; the next put, built after that reply, runs on
// the promoted master, which had 3, and takes 4 again. No acknowledged
// put was lost: nothing is found, nothing put again.
func TestWentBackNotForAnUnacknowledgedPut(t *testing.T) {
	q, reg := newUnreachableQueue(t)
	q.mu.Lock()
	q.shareLocked("acme").putNumber(3, time.Now())
	q.mu.Unlock()
	old := builtPut(q, 4, "A1")
	old.failWait()
	q.recordGroups([]*putGroup{old})
	q.recordGroups([]*putGroup{builtPut(q, 4, "B1")})
	if got := counterValue(t, reg, "dlr_redis_went_back_total"); got != 0 {
		t.Errorf("dlr_redis_went_back_total = %v, want 0", got)
	}
}

// builtPut is a put group of acme built now (judged against what q knows
// of acme at this point) whose reply says it stored ids under put number
// own, marker M1/0.
func builtPut(q *RedisQueue, own int64, ids ...string) *putGroup {
	q.mu.Lock()
	defer q.mu.Unlock()
	g := &putGroup{sys: "acme", kind: kindPut, check: q.seqCheckLocked("acme")}
	for _, id := range ids {
		r := receipt(id, "acme", time.Hour)
		g.kept = append(g.kept, g.appendItem(&r))
	}
	g.all = g.text.String()
	g.res = []any{int64(len(ids)), "M1/0", int64(0), int64(countStride + 5), own}
	g.count = len(ids)
	return g
}

// failWait makes g's reply one whose WAIT failed: stored on the master,
// not acknowledged.
func (g *putGroup) failWait() {
	g.err, g.count = errors.New("WAIT: no replica acknowledged"), 0
}

// TestWentBackPutNumberAfterIdle: Redis lets an instance's put number
// expire 10 minutes after its last put, and numbers start again from 1;
// the first put acknowledged after that is what Redis must show from
// then on, however high the number before the pause was.
func TestWentBackPutNumberAfterIdle(t *testing.T) {
	q, reg := newUnreachableQueue(t)
	now := time.Now()
	sh := q.shareLocked("acme")
	sh.putNumber(20000, now.Add(-11*time.Minute))
	sh.putNumber(1, now)
	sh.putNumber(2, now)
	if got := q.seqCheckLocked("acme").seen; got != 2 {
		t.Fatalf("seen %d after the pause, want 2", got)
	}
	q.checkSeqLocked("acme", "M1/0", false, 0, q.seqCheckLocked("acme"))
	if got := counterValue(t, reg, "dlr_redis_went_back_total"); got != 1 {
		t.Errorf("dlr_redis_went_back_total = %v, want 1: Redis lost puts 1 and 2", got)
	}
}

// TestWentBackToldKeepsOwnPutNumber: a count built when this instance's
// put number was 5 comes back after a put took 6, with another
// instance's went-back marker and 5: nothing to judge against what the
// count was built with, but the put numbers survive the marker, and the
// next call finds Redis below 6.
func TestWentBackToldKeepsOwnPutNumber(t *testing.T) {
	q, reg := newUnreachableQueue(t)
	now := time.Now()
	q.shareLocked("acme").putNumber(5, now)
	count := q.seqCheckLocked("acme")
	q.shareLocked("acme").putNumber(6, now) // a put acknowledged meanwhile, on the old master
	q.checkSeqLocked("acme", "wb:x/2", false, 5, count)
	q.epochSeenLocked("acme", "wb:x/2", false)
	if got := counterValue(t, reg, "dlr_redis_went_back_total"); got != 0 {
		t.Fatalf("dlr_redis_went_back_total = %v after the count, want 0", got)
	}
	q.checkSeqLocked("acme", "wb:x/2", false, 5, q.seqCheckLocked("acme")) // the next put finds 5
	if got := counterValue(t, reg, "dlr_redis_went_back_total"); got != 1 {
		t.Errorf("dlr_redis_went_back_total = %v after the next put, want 1: put 6 is gone", got)
	}
}

// TestPutNumberTakenTwiceJudged: which pairs of puts with the same number
// show an acknowledged put lost, and that numbers recorded ownPutForget
// before are not compared with new ones (Redis may have let the key
// expire and started again from 1).
func TestPutNumberTakenTwiceJudged(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		name                  string
		firstAcked, thenAcked bool
		together              bool // the second built before the first was recorded
		at                    time.Duration
		want                  bool
	}{
		{"both acknowledged, in flight together", true, true, true, 0, true},
		{"both acknowledged, one after the other", true, true, false, 0, true},
		{"one acknowledged, in flight together", true, false, true, 0, true},
		{"the other acknowledged, in flight together", false, true, true, 0, true},
		{"WAIT failed on the old master, then a put on the promoted one", false, true, false, 0, false},
		{"neither acknowledged", false, false, true, 0, false},
		{"the first recorded ownPutForget before", true, true, true, ownPutForget, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var sh lossShares
			for n := int64(1); n <= 3; n++ {
				if sh.tookPut(putTaken{own: n, acked: true, recorded: uint64(n)}, uint64(n-1), now) {
					t.Fatalf("%d: taken twice on its first take", n)
				}
			}
			if sh.tookPut(putTaken{own: 4, acked: tt.firstAcked, recorded: 4}, 3, now) {
				t.Fatal("4: taken twice on its first take")
			}
			built := uint64(4)
			if tt.together {
				built = 3
			}
			if got := sh.tookPut(putTaken{own: 4, acked: tt.thenAcked, recorded: 5}, built, now.Add(tt.at)); got != tt.want {
				t.Errorf("4 taken again: lost an acknowledged put %v, want %v", got, tt.want)
			}
		})
	}
}
