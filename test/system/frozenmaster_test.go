package system

import (
	"strings"
	"testing"
	"time"
)

// TestSentinelFrozenMasterFailsOver: the set-up of
// TestSentinelFailoverWaitReplicas, but the
// master is frozen (SIGSTOP) instead of killed: its connections stay
// open and every command sent to it hangs until the client's timeout.
// The Sentinels promote a replica; the old master is then thawed
// (SIGCONT) and, for the moment before the Sentinels turn it into a
// replica, takes writes again from connections that still point at it,
// with no replica left to acknowledge them. Every submit is answered, and
// no receipt acknowledged at any time is lost: with REDIS_WAIT_REPLICAS=1
// every acknowledged put reached a replica; with 0, what the promoted
// replica lacks is found as Redis going back and put again.
func TestSentinelFrozenMasterFailsOver(t *testing.T) {
	for _, wait := range []string{"1", "0"} {
		t.Run("REDIS_WAIT_REPLICAS="+wait, func(t *testing.T) { frozenMasterFailsOver(t, wait) })
	}
}

func frozenMasterFailsOver(t *testing.T, waitReplicas string) {
	const freezeAt = 3 * time.Second
	l := startSentinelWaitLoad(t, waitReplicas)
	ss, runs, start, old, loadDone := l.ss, l.runs, l.start, l.old, l.done
	time.Sleep(time.Until(start.Add(freezeAt)))
	if err := old.pause(); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	nm, promoted, ok := ss.waitFailover(old, 30*time.Second)
	if err := old.resume(); err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatalf("no failover 30 s after the freeze: %s", ss.describe())
	}
	<-loadDone
	lost, accepted := lostSince(runs, time.Time{}, 30*time.Second)
	unanswered := 0
	var counts []string
	for _, l := range runs {
		m := l.tally(time.Time{}, time.Time{})
		for k, n := range m {
			if strings.HasPrefix(k, "error: ") {
				unanswered += n
			}
		}
		counts = append(counts, l.acct.sys+": "+fmtTally(m))
	}
	wentBack, replayed := wentBackSum(l.gws)
	t.Logf("sentinel failover: master %s frozen %v into the load, %s promoted %v later, the old master thawed then; %d acknowledged (%s), %d unanswered; went back %v times, %v receipts put again; lost per account: {%s}",
		old.addr(), frozen.Sub(start).Round(time.Millisecond), nm.addr(), promoted.Sub(frozen).Round(time.Millisecond),
		accepted, strings.Join(counts, "; "), unanswered, wentBack, replayed, fmtCounts(lost))
	if unanswered > 0 {
		t.Errorf("%d submits never answered", unanswered)
	}
	if len(lost) > 0 {
		t.Errorf("acknowledged receipts never delivered: {%s}", fmtCounts(lost))
	}
}
