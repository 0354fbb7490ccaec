package dlr

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Redis that went back in time. Every put and every count takes a new,
// higher number of the account's count sequence (countLua), so finding
// the sequence below the highest number this instance had seen when it
// sent the call says that Redis lost writes it had acknowledged, although the account's
// epoch marker is still there: it was restarted from an older snapshot or
// append-only file, or failed over to a replica that had not received
// the latest writes (REDIS_WAIT_REPLICAS=0). Receipts stored after that
// point are lost, and receipts acknowledged after it come back and are
// sent again. Which of them were delivered meanwhile cannot be told, so
// they are not counted in dlr_lost_total: the event is counted in
// dlr_redis_went_back_total and logged with this instance's receipts
// stored after the number Redis shows now. Each instance judges from the
// numbers it was shown, and one whose first call after the loss comes once
// other instances have taken the sequence past what it had seen would find
// nothing: so the instance that finds it writes the account's epoch marker
// anew, as "wb:<token>/<sequence found>", and every other instance that
// had seen the former marker reports it at its next call, with its own
// receipts stored after that sequence (wentBackToldLocked).

// seqCheck is what a put or count is built with, for checkSeqLocked to
// judge the number its reply brings: the highest number a reply had shown
// this instance for the account (0: none yet), and which history that was
// (the account's lossShares, replaced when Redis is found to have lost
// the account, and the epoch marker the call expects).
type seqCheck struct {
	seen  int64
	share *lossShares
	epoch string
}

// seqCheckLocked is the seqCheck of a call for sys built now. With
// REDIS_WAIT_REPLICAS, seen is the highest number this instance's puts
// took: those were replicated with the receipts, whereas a count's number
// or an acknowledgement is not waited for, and a failover that loses one
// of them loses no receipt.
func (q *RedisQueue) seqCheckLocked(sys string) seqCheck {
	sh := q.shares[sys]
	c := seqCheck{share: sh, epoch: q.epochs[sys]}
	switch {
	case sh == nil:
	case q.o.WaitReplicas > 0:
		c.seen = sh.putSeq
	default:
		c.seen = sh.lastSeq
	}
	return c
}

// checkSeqLocked takes the sequence found that a put or count of sys
// found before it took its number, built with c: below c.seen, within the
// same history and with the account's marker as it expected, Redis went
// back in time (a put's number found+1 is then not above c.seen; a
// count's own number, the next multiple of countStride, may well be). A marker found
// gone (lost) or changed is the data-loss path's (epochSeenLocked); a
// history replaced since the call was built (a loss, or Redis going back,
// recorded from another reply) is not judged again: the numbers the call
// was built against belong to the history that ended.
func (q *RedisQueue) checkSeqLocked(sys, epoch string, lost bool, found int64, c seqCheck) {
	if lost || found < 0 || c.seen < 1 || found >= c.seen || epoch == "" || epoch != c.epoch || q.shares[sys] != c.share {
		return
	}
	// Stored after the count before the sequence Redis is back at, as far
	// as this instance remembers (shareMemory): an upper bound within one
	// count, a lower one for data older than that memory.
	stored := c.share.storedSince(countOf(found))
	// What this instance knew of the account's counts and writes belongs
	// to the lost history: a later loss is counted from new counts.
	delete(q.shares, sys)
	if q.wentBack != nil {
		q.wentBack.Inc()
	}
	mark := wentBackMark{at: time.Now(), marker: "wb:" + randomToken() + "/" + strconv.FormatInt(found, 10)}
	q.wentBackAt[sys] = mark
	go q.tellWentBack(sys, c.epoch, mark.marker)
	replayed := q.replayLocked(sys, found)
	q.log.Error("dlr.redis_went_back", "system_id", sys, "sequence_found", found, "seen", c.seen, "stored_after", stored, "replayed", replayed,
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
// the going back itself within shareMemory (already reported), it reports
// it as its own, with its receipts stored after the sequence found.
func (q *RedisQueue) wentBackToldLocked(sys, marker string, found int64) {
	if m, ok := q.wentBackAt[sys]; ok && (m.marker == marker || time.Since(m.at) < shareMemory) {
		return
	}
	stored := 0
	if sh := q.shares[sys]; sh != nil {
		stored = sh.storedSince(countOf(found))
	}
	delete(q.shares, sys)
	q.wentBackAt[sys] = wentBackMark{at: time.Now(), marker: marker}
	if q.wentBack != nil {
		q.wentBack.Inc()
	}
	replayed := q.replayLocked(sys, found)
	q.log.Error("dlr.redis_went_back", "system_id", sys, "sequence_found", found, "stored_after", stored, "replayed", replayed, "told", true,
		"detail", "another instance found that "+wentBackDetail)
}

// wentBackDetail is the detail of a dlr.redis_went_back line.
const wentBackDetail = "Redis lost writes it had acknowledged although the account's marker is there (restarted from an older snapshot or append-only file, or failed over to a replica that lagged, or to one that a replica which had answered WAIT was re-pointed to): the receipts this instance stored after that point (stored_after, as far as the last minute goes) are put again through the outage buffer as far as it still kept them (replayed: the last minute, at most DLR_BUFFER_SIZE); of the others, those neither delivered meanwhile nor still in its outage buffer are lost; receipts acknowledged after that point may be sent again"
