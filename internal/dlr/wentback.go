package dlr

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Redis that went back in time. Every put of an instance takes that
// instance's next put number for the account (ownPutsLua: a key of its
// own, in the same transaction or script as the receipts, replicated with
// them), so a put or count finding the number below the highest one this
// instance was acknowledged for says that Redis lost puts it had
// acknowledged, although the account's epoch marker is still there: it
// was restarted from an older snapshot or append-only file, or failed
// over to a replica that had not received the latest writes
// (REDIS_WAIT_REPLICAS=0, or a graceful failover: the old master takes
// writes until Sentinel turns it into a replica, and a replica still
// attached to it answers WAIT, then resyncs from the promoted one). The
// number is the instance's own, so neither another instance's puts nor a
// count (which takes the next multiple of the account's count sequence
// above what Redis held, and so hides how far back it went) can make up
// for the loss, and each instance finds its own at its next put or count
// of the account (every sweep), however long after. Two puts in flight
// together are both judged against the number before them; when one ran
// on the old master and the other on the promoted one, both took the
// same number, and that (checkTakenTwiceLocked) says it instead. It puts
// again what it stored after the number found (replay.go). Which of those were
// delivered meanwhile cannot be told, so they are not counted in
// dlr_lost_total: the event is counted in dlr_redis_went_back_total and
// logged with the receipts put again. The instance that finds it also
// writes the account's epoch marker anew, as "wb:<token>/<number
// found>", and every other instance that had seen the former marker
// logs it too (dlr.redis_went_back_told, a warning: it finds its own
// losses by itself, from its own put number).

// seqCheck is what a put or count is built with, for checkSeqLocked to
// judge the put number its reply brings: the highest put number this
// instance had been acknowledged for (0: none, or none within
// ownPutForget), and which history that was (the account's lossShares,
// replaced when Redis is found to have lost the account, and the epoch
// marker the call expects).
type seqCheck struct {
	seen  int64
	share *lossShares
	epoch string
	built uint64 // RedisQueue.putReplies when the call was built
}

// seqCheckLocked is the seqCheck of a call for sys built now.
func (q *RedisQueue) seqCheckLocked(sys string) seqCheck {
	sh := q.shares[sys]
	c := seqCheck{share: sh, epoch: q.epochs[sys], built: q.putReplies}
	if sh != nil && time.Since(sh.ownAt) < ownPutForget {
		c.seen = sh.ownPut
	}
	return c
}

// checkSeqLocked takes the put number of this instance that a put or
// count of sys found (before a put took its own), built with c: below
// c.seen, within the same history and with the account's marker as it
// expected (or a went-back marker written since: the same data, gone
// back), Redis went back in time. A marker found gone (lost) or
// otherwise changed is the data-loss path's (epochSeenLocked); a history
// replaced since the call was built (a loss, or Redis going back,
// recorded from another reply) is not judged again: the numbers the call
// was built against belong to the history that ended.
func (q *RedisQueue) checkSeqLocked(sys, epoch string, lost bool, found int64, c seqCheck) {
	if lost || found < 0 || c.seen < 1 || found >= c.seen || epoch == "" || q.shares[sys] != c.share {
		return
	}
	if _, wentBack := wentBackFound(epoch); epoch != c.epoch && !wentBack {
		return
	}
	q.wentBackLocked(sys, c.epoch, found, c.seen)
}

// checkTakenTwiceLocked takes the put number own that a put of sys took
// (acknowledged or not), its reply bringing epoch, built with c: a number
// another put of this instance took too says, as tookPut judges, that
// Redis went back to own-1 and lost an acknowledged put, whatever the
// checks the two were built with found. Put numbers of a history that
// ended (a loss: the marker changed and numbers start again; lostLocked
// and checkSeqLocked drop the shares that hold them) are not compared
// with the new ones. Run after epochSeenLocked, and after the put's group
// is in the journal: it may be the put the old master took and lost.
func (q *RedisQueue) checkTakenTwiceLocked(sys, epoch string, lost bool, own int64, acked bool, c seqCheck) {
	if lost || own < 1 || epoch == "" {
		return
	}
	q.putReplies++
	p := putTaken{own: own, acked: acked, recorded: q.putReplies}
	if q.shareLocked(sys).tookPut(p, c.built, time.Now()) {
		q.wentBackLocked(sys, epoch, own-1, own)
	}
}

// wentBackLocked reports that Redis went back to this instance's put
// number found for sys, below seen, which it had been acknowledged for
// (or which another put took too), under the marker expected: it ends
// the account's history, counts it, tells the other instances and puts
// again what it stored after found.
func (q *RedisQueue) wentBackLocked(sys, expected string, found, seen int64) {
	// What this instance knew of the account's counts and writes belongs
	// to the lost history: a later loss is counted from new counts.
	delete(q.shares, sys)
	if q.wentBack != nil {
		q.wentBack.Inc()
	}
	mark := wentBackMark{at: time.Now(), marker: "wb:" + randomToken() + "/" + strconv.FormatInt(found, 10)}
	q.wentBackAt[sys] = mark
	go q.tellWentBack(sys, expected, mark.marker)
	replayed := q.replayLocked(sys, found)
	q.log.Error("dlr.redis_went_back", "system_id", sys, "put_number_found", found, "seen", seen, "replayed", replayed,
		"detail", wentBackDetail)
}

// wentBackMark is what an instance remembers of its last finding for an
// account: when, and the marker it wrote.
type wentBackMark struct {
	at     time.Time
	marker string
}

// tellWentBackTries bounds the writes of a went-back marker: a finding is
// most often made during a failover, when the next write may still reach
// the old master; the tries are 250 ms apart, then twice as far each time
// (about 8 s in all).
const tellWentBackTries = 6

// tellWentBack writes marker as sys's epoch marker in place of expected
// (the marker the finding was made under, and only that one), for the
// other instances to report the going back too. Best effort: should every
// try fail, each instance still judges from its own numbers. One short
// goroutine per finding, which is rare.
func (q *RedisQueue) tellWentBack(sys, expected, marker string) {
	wait := 250 * time.Millisecond
	var err error
	for try := range tellWentBackTries {
		if try > 0 {
			time.Sleep(wait) // a goroutine of its own, nothing waits on it
			wait *= 2
		}
		ctx, cancel := context.WithTimeout(context.Background(), q.o.CommitTimeout)
		err = q.s.markWentBack.Run(ctx, q.c, []string{q.epochKey(sys)}, expected, marker).Err()
		cancel()
		if err == nil {
			return
		}
	}
	q.log.Warn("dlr.redis_went_back_not_told", "system_id", sys, "err", err.Error(), "tries", tellWentBackTries)
}

// wentBackFound is the sequence a went-back marker says Redis came back
// with ("wb:<token>/<sequence>").
func wentBackFound(marker string) (int64, bool) {
	rest, ok := strings.CutPrefix(marker, "wb:")
	if !ok {
		return 0, false
	}
	_, n, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, false
	}
	found, err := strconv.ParseInt(n, 10, 64)
	return found, err == nil && found >= 0
}

// wentBackToldLocked takes a went-back marker of sys that replaced the
// one this instance had seen: unless this instance wrote it, or found
// the going back itself within shareMemory (already reported), it logs
// it. It puts nothing again itself: had Redis lost any of this
// instance's puts, the reply that brought the marker showed its put
// number below what it had seen (checkSeqLocked, which runs first), or
// the next call shows it (the put numbers are kept).
func (q *RedisQueue) wentBackToldLocked(sys, marker string, found int64) {
	if m, ok := q.wentBackAt[sys]; ok && (m.marker == marker || time.Since(m.at) < shareMemory) {
		return
	}
	// What it knew of the account's counts and writes belongs to the
	// history Redis left (its data-loss counting starts anew); its put
	// numbers stay: a call built before this reply may have judged an
	// older one, and the next judges the latest.
	old := q.shares[sys]
	delete(q.shares, sys)
	q.shareLocked(sys).keepPutsOf(old)
	q.wentBackAt[sys] = wentBackMark{at: time.Now(), marker: marker}
	q.log.Warn("dlr.redis_went_back_told", "system_id", sys, "finder_put_number_found", found,
		"detail", "another instance found that "+wentBackDetail+"; none of this instance's recent puts was lost")
}

// wentBackDetail is the detail of a dlr.redis_went_back line.
const wentBackDetail = "Redis lost writes it had acknowledged although the account's marker is there (restarted from an older snapshot or append-only file, or failed over to a replica that lagged, or to one that a replica which had answered WAIT was re-pointed to): the receipts this instance stored after that point are put again through the outage buffer as far as it still kept them (replayed: the last minute, at most DLR_BUFFER_SIZE; those Redis still holds or remembers finished are left as they are); older ones neither delivered meanwhile nor still in its outage buffer are lost; receipts acknowledged after that point may be sent again"
