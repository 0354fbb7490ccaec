package system

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// countSeqStride is what a sweep's count adds at least to an account's
// count sequence (it takes the next multiple of it; a put takes the next
// number): internal/dlr's countStride.
const countSeqStride = 1 << 20

// TestRedisWentBackIsDetected: one gateway on its own redis-server with
// RDB persistence only (snapshots taken by an explicit SAVE). The account
// has receipts in Redis, a snapshot is taken, more receipts are
// acknowledged (ESME_ROK), and Redis is killed with SIGKILL and started
// again on the same port and directory, so that it finds:
//   - the older snapshot: it went back in time with the account's epoch
//     marker still there, which dlr_redis_went_back_total counts once and
//     dlr.redis_went_back logs once, with the receipts stored after the
//     snapshot, put again (replayed); not a data loss of the account. Found by
//     the first put after the restart, or, when a sweep comes first, by
//     its count;
//   - everything (a snapshot taken at the kill, writes paused): nothing is
//     lost, nothing is counted;
//   - nothing (the dump file deleted): a data loss of the account, counted
//     in dlr_lost_total{cause="redis_data_loss"}, not a going back.
//
// Only a transmitter binds, so the receipts stay pending: no claim or ack
// writes to Redis, and the only writes are the puts and the sweeps' counts
// (every ~2 s), whose numbers the test reads from the account's count
// sequence in Redis to know when a count ran.
func TestRedisWentBackIsDetected(t *testing.T) {
	const (
		initial = 20 // receipts in Redis before the snapshot
		after   = 50 // acknowledged after the snapshot
		extra   = 5  // submitted after the restart, once the outcome is seen
		// Bounds for what takes a sweep or two (2 s each) on an idle
		// machine; a loaded 2-core one may stretch them several times.
		countWait  = 30 * time.Second
		verdictDur = 30 * time.Second
	)
	killOlder := func(t *testing.T, rs *redisServer, _ *redis.Client) {
		if err := rs.stop(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		// kill stops rs with SIGKILL, leaving behind in its directory
		// what the restart loads.
		kill func(t *testing.T, rs *redisServer, c *redis.Client)
		// sweepFirst: after the restart, a sweep's count runs before
		// the next submit (else the submit comes at once, and most often
		// its put is what Redis answers first).
		sweepFirst bool
		// noCountBetween: the puts come right after the snapshot, so
		// that (most often) no count is among the writes Redis loses.
		noCountBetween bool
		// wentBack: dlr_redis_went_back_total after the restart; lost:
		// dlr_lost_total{cause="redis_data_loss"}.
		wentBack, lost int
	}{
		{
			// The writes after the snapshot are lost; the marker, written
			// with the first receipt, is in the snapshot.
			name:     "restarted from an older snapshot",
			kill:     killOlder,
			wentBack: 1,
		},
		{
			name:           "restarted from an older snapshot, a sweep first",
			kill:           killOlder,
			sweepFirst:     true,
			noCountBetween: true,
			wentBack:       1,
		},
		{
			// Writes paused, so no sweep's count can run between the
			// SAVE and the kill: the snapshot holds every number the
			// gateway was shown. (A count in between would be a write
			// Redis acknowledged and lost: a going back, rightly found.)
			name: "restarted with everything kept",
			kill: func(t *testing.T, rs *redisServer, c *redis.Client) {
				ctx, cancel := shortCtx()
				defer cancel()
				if err := c.Do(ctx, "CLIENT", "PAUSE", 30000, "WRITE").Err(); err != nil {
					t.Fatalf("CLIENT PAUSE: %v", err)
				}
				if err := c.Save(ctx).Err(); err != nil {
					t.Fatalf("SAVE before the kill: %v", err)
				}
				if err := rs.stop(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "restarted empty",
			kill: func(t *testing.T, rs *redisServer, _ *redis.Client) {
				if err := rs.stop(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(filepath.Join(rs.dir, "dump.rdb")); err != nil {
					t.Fatal(err)
				}
			},
			lost: initial + after,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			rs := startOnFreePorts(t, func() *redisServer {
				r := newRedisServer(t)
				r.args = []string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "",
					"--appendonly", "no", "--dir", r.dir, "--dbfilename", "dump.rdb", "--protected-mode", "no"}
				return r
			})
			prefix := uniquePrefix()
			seqKey := prefix + "dlr:{testuser}:countseq"
			g := startGW(t, "gw-wentback", map[string]string{
				"REDIS_URL": rs.URL(), "REDIS_KEY_PREFIX": prefix,
				// No receiver binds; a long delay keeps the receipts
				// pending even so.
				"DLR_DELAY_SECONDS": "600",
			})
			tx := dial(t, g.smppAddr, pdu.CmdBindTransmitter, nil)
			c := nodeClient(t, rs.addr(), "")

			// Receipts in Redis, then a count after them, then the
			// snapshot: the marker and the count are in it.
			submitAccepted(t, tx, invalidNumbers(80_000_000, initial))
			seq := waitCounted(t, c, seqKey, mustCountSeq(t, c, seqKey), countWait)
			ctx, cancel := shortCtx()
			err := c.Save(ctx).Err()
			cancel()
			if err != nil {
				t.Fatalf("SAVE: %v", err)
			}

			// The puts, after a count or at once. Without a count in
			// between, the first count after the restart takes the very
			// multiple it would have taken after the lost puts: it is
			// the sequence it finds (the snapshot's, below what the
			// gateway was shown) that says Redis went back.
			if !tt.noCountBetween {
				waitCounted(t, c, seqKey, seq, countWait)
			}
			submitAccepted(t, tx, invalidNumbers(81_000_000, after))
			beforeKill := mustCountSeq(t, c, seqKey)

			tt.kill(t, rs, c)
			if err := rs.start(); err != nil {
				t.Fatal(err)
			}
			restarted := time.Now()
			c = nodeClient(t, rs.addr(), "")
			restored := mustCountSeq(t, c, seqKey)

			waitWentBack := func() {
				t.Helper()
				if tt.wentBack > 0 && !waitFor(verdictDur, func() bool {
					v, ok := g.metric("dlr_redis_went_back_total")
					return ok && v >= float64(tt.wentBack)
				}) {
					v, _ := g.metric("dlr_redis_went_back_total")
					t.Fatalf("dlr_redis_went_back_total = %v %v after the restart, want %d", v, verdictDur, tt.wentBack)
				}
			}
			if tt.sweepFirst {
				// The count ran in Redis; its reply is recorded, and the
				// finding made, before the submit's put is built.
				restored = waitCounted(t, c, seqKey, restored, countWait)
				waitWentBack()
			}
			submitAccepted(t, tx, invalidNumbers(82_000_000, 1))
			waitWentBack()
			if tt.lost > 0 && !waitFor(verdictDur, func() bool {
				v, ok := g.series(`dlr_lost_total{cause="redis_data_loss"}`)
				return ok && v >= float64(tt.lost)
			}) {
				v, _ := g.series(`dlr_lost_total{cause="redis_data_loss"}`)
				t.Fatalf(`dlr_lost_total{cause="redis_data_loss"} = %v %v after the restart, want %d`, v, verdictDur, tt.lost)
			}
			detected := time.Since(restarted)

			// Two more counts and a few more puts, each of which could
			// find (again) that Redis went back, before the verdict.
			seq = waitCounted(t, c, seqKey, restored, countWait)
			submitAccepted(t, tx, invalidNumbers(83_000_000, extra))
			waitCounted(t, c, seqKey, seq, countWait)

			if !g.p.running() {
				t.Fatalf("the gateway exited:\n%s", g.p.tail(40))
			}
			// What Redis lost by going back is put again from what the
			// gateway kept of its puts: every accepted receipt is pending.
			if tt.wentBack > 0 {
				pendingKey := prefix + "dlr:{testuser}:r"
				want := int64(initial + after + 1 + extra)
				var held int64
				if !waitFor(verdictDur, func() bool {
					ctx, cancel := shortCtx()
					defer cancel()
					held, _ = c.HLen(ctx, pendingKey).Result()
					return held == want
				}) {
					replayed, _ := g.metric("dlr_replayed_total")
					t.Errorf("%d receipts pending in Redis after the restart, want every one accepted: %d (dlr_replayed_total %v)", held, want, replayed)
				}
			}
			wentBack, ok1 := g.metric("dlr_redis_went_back_total")
			lost, ok2 := g.series(`dlr_lost_total{cause="redis_data_loss"}`)
			if !ok1 || !ok2 {
				t.Fatalf("scraping /metrics failed (dlr_redis_went_back_total found: %v, dlr_lost_total{cause=\"redis_data_loss\"} found: %v)", ok1, ok2)
			}
			lines := g.events("dlr.redis_went_back")
			var found []string
			for _, l := range lines {
				found = append(found, fmt.Sprintf("{system_id=%v put_number_found=%.0f seen=%.0f replayed=%.0f}", l["system_id"], l["put_number_found"], l["seen"], l["replayed"]))
			}
			t.Logf("%s: count sequence %d at the kill, %d after the restart; dlr_redis_went_back_total=%v dlr_lost_total{cause=\"redis_data_loss\"}=%v (%v after the restart); %d dlr.redis_went_back lines %v; %v in all",
				tt.name, beforeKill, restored, wentBack, lost, detected.Round(time.Millisecond), len(lines), found, time.Since(start).Round(time.Millisecond))
			if wentBack != float64(tt.wentBack) {
				t.Errorf("dlr_redis_went_back_total = %v, want %d", wentBack, tt.wentBack)
			}
			if lost != float64(tt.lost) {
				t.Errorf(`dlr_lost_total{cause="redis_data_loss"} = %v, want %d`, lost, tt.lost)
			}
			if len(lines) != tt.wentBack {
				t.Fatalf("%d dlr.redis_went_back lines, want %d", len(lines), tt.wentBack)
			}
			for _, l := range lines {
				// replayed: the receipts put after the snapshot, exactly
				// (the instance's put number in the snapshot says where).
				sys, _ := l["system_id"].(string)
				level, _ := l["level"].(string)
				replayed, _ := l["replayed"].(float64)
				number, ok := l["put_number_found"].(float64)
				seen, _ := l["seen"].(float64)
				if sys != "testuser" || !strings.EqualFold(level, "error") {
					t.Errorf("dlr.redis_went_back line %v: want system_id testuser at level error", l)
				}
				if replayed != after {
					t.Errorf("dlr.redis_went_back replayed = %v, want the %d acknowledged after the snapshot", replayed, after)
				}
				// The put number Redis came back with, below what the
				// gateway had been acknowledged for (the sweep-first case
				// has found it by a count before any submit).
				if !ok || number < 0 || number >= seen {
					t.Errorf("dlr.redis_went_back put_number_found = %v, seen = %v: want 0 <= put_number_found < seen", number, seen)
				}
			}
		})
	}
}

// submitAccepted submits one message per destination and fails unless
// every one is answered ESME_ROK: each answer comes once its receipt is
// stored (a put of the account).
func submitAccepted(t *testing.T, c *esme.Client, dests []string) {
	t.Helper()
	res := submitAll(t, c, dests, 16, 0, 30*time.Second)
	if ids := acceptedIDs(t, res); len(ids) != len(dests) {
		t.Fatalf("%d of %d submits accepted (%s)", len(ids), len(dests), fmtTally(tally(res)))
	}
}

// countSeq reads the account's count sequence (0 before the first put or
// count).
func countSeq(c *redis.Client, key string) (int64, error) {
	ctx, cancel := shortCtx()
	defer cancel()
	v, err := c.Get(ctx, key).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return v, err
}

func mustCountSeq(t *testing.T, c *redis.Client, key string) int64 {
	t.Helper()
	v, err := countSeq(c, key)
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	return v
}

// waitCounted waits until a sweep's count took a number after from (the
// sequence reached a higher multiple of countSeqStride) and returns the
// sequence then.
func waitCounted(t *testing.T, c *redis.Client, key string, from int64, d time.Duration) int64 {
	t.Helper()
	next := from - from%countSeqStride + countSeqStride
	var v int64
	var err error
	if !waitFor(d, func() bool {
		v, err = countSeq(c, key)
		return err == nil && v >= next
	}) {
		t.Fatalf("no count of the account within %v: %s = %d (err %v), want %d or more", d, key, v, err, next)
	}
	return v
}

// series returns one series of /metrics, named with its labels exactly as
// exported (e.g. `dlr_lost_total{cause="redis_data_loss"}`); ok is false
// when the scrape fails or the series is not there.
func (g *gw) series(name string) (v float64, ok bool) {
	g.scrapeLines(func(line string) bool {
		rest, found := strings.CutPrefix(line, name+" ")
		if found {
			var err error
			v, err = strconv.ParseFloat(strings.TrimSpace(rest), 64)
			ok = err == nil
		}
		return !found
	})
	return v, ok
}

// events returns the gateway's JSON log lines of one event, decoded.
func (g *gw) events(event string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(g.p.logs(), "\n") {
		if !strings.Contains(line, fmt.Sprintf("%q", event)) {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["event"] == event {
			out = append(out, m)
		}
	}
	return out
}
