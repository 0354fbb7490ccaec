package dlr

import (
	"sync/atomic"
	"time"
)

// Receipts put again after Redis went back in time (wentback.go). Redis
// that lost writes it had acknowledged, its account marker still there
// (an older snapshot, a replica that lagged, or one that answered WAIT and
// was then re-pointed to the replica a failover promoted, whose full
// resync wiped them), lost the receipts stored after the put number it
// came back with. Each instance keeps what its last group commits stored,
// as Redis was sent it (the group's text: elements and bodies, one string
// per group, no copy), with its put number; when a put or count of the
// account finds Redis back below a number it had been acknowledged for,
// the receipts its puts stored after the number found go to the outage
// buffer and are written back from there as any buffered receipt is:
// skipped when Redis remembers them finished (acknowledged after the
// failover), kept when Redis still holds them pending. A receipt
// delivered before the loss and whose acknowledgement was lost with it is
// sent again (at least once).
//
// The journal is bounded by DLR_BUFFER_SIZE receipts and shareMemory (a
// minute): a receipt older than both is not replayed; the
// dlr.redis_went_back line says how many were (replayed).

// replayEntry is one group commit of an account, as Redis stored it.
type replayEntry struct {
	sys   string
	seq   int64 // the put number the put took (ownPutsLua)
	at    time.Time
	text  string    // the group's elements and bodies
	items []putItem // where each receipt lies in text
}

// replayJournal is the recent entries, oldest first, under RedisQueue.mu.
type replayJournal struct {
	max     int // receipts kept at most; 0: none (no outage buffer to replay into)
	entries []replayEntry
	head    int // entries[:head] are dropped
	n       int // receipts in entries[head:]
	// held is n for the gauge dlr_replay_journal_receipts, read without
	// RedisQueue.mu.
	held atomic.Int64
}

// add keeps e and drops what falls out of the bounds.
func (j *replayJournal) add(e replayEntry, now time.Time) {
	if j.max <= 0 || len(e.items) == 0 {
		return
	}
	j.entries = append(j.entries, e)
	j.n += len(e.items)
	j.prune(now)
}

// prune drops the oldest entries while the journal holds more than max
// receipts or entries older than shareMemory. Run by add, and by every
// count of an account (each sweep), so that what a quiet instance keeps,
// and the gauge, do not stay at what its last put left.
func (j *replayJournal) prune(now time.Time) {
	for j.head < len(j.entries) {
		old := &j.entries[j.head]
		if j.n <= j.max && now.Sub(old.at) <= shareMemory {
			break
		}
		j.n -= len(old.items)
		*old = replayEntry{}
		j.head++
	}
	j.held.Store(int64(j.n))
	if j.head == len(j.entries) {
		j.entries, j.head = j.entries[:0], 0
	} else if j.head > 1024 && j.head*2 > len(j.entries) {
		n := copy(j.entries, j.entries[j.head:])
		clear(j.entries[n:])
		j.entries, j.head = j.entries[:n], 0
	}
}

// take removes and returns the receipts of sys whose puts took a put
// number above after, oldest first; ids whose body does not decode are
// skipped. A number the journal holds twice for sys lowers after below
// it: two masters took writes at once (a graceful failover: the old one
// until Sentinel turns it into a replica, the promoted one as soon as
// this instance's client moves to it), each numbering its puts from
// where it was, so puts the promoted one never had took numbers it
// gave again to its own, and the number it shows now is not where the
// lost puts begin. Those of both are put again; the write-back leaves the
// ones Redis holds as they are.
func (j *replayJournal) take(sys string, after int64) []Receipt {
	seen := make(map[int64]bool)
	for _, e := range j.entries[j.head:] {
		if e.sys != sys {
			continue
		}
		if seen[e.seq] && e.seq <= after {
			after = e.seq - 1
		}
		seen[e.seq] = true
	}
	var out []Receipt
	kept := j.entries[:j.head]
	for _, e := range j.entries[j.head:] {
		if e.sys != sys || e.seq <= after {
			kept = append(kept, e)
			continue
		}
		j.n -= len(e.items)
		for _, it := range e.items {
			r, err := decodeReceipt(e.text[it.body:it.end])
			if err == nil && r.MessageID == e.text[it.id:it.body] {
				out = append(out, r)
			}
		}
	}
	clear(j.entries[len(kept):])
	j.entries = kept
	j.held.Store(int64(j.n))
	return out
}

// replayer is what a RedisQueue hands the receipts to put again: the
// outage buffer (BufferedQueue.replay).
type replayer func(sys string, rs []Receipt)

// enableReplay makes q keep up to max receipts for replay, handed to
// to when Redis is found to have gone back.
func (q *RedisQueue) enableReplay(max int, to replayer) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.journal.max, q.replayTo = max, to
}

// journalLocked keeps what g, a put or restore group, stored.
func (q *RedisQueue) journalLocked(g *putGroup, seq int64, now time.Time) {
	if q.replayTo == nil || g.err != nil || g.count == 0 {
		return
	}
	q.journal.add(replayEntry{sys: g.sys, seq: seq, at: now, text: g.all, items: g.kept}, now)
}

// replayLocked takes sys's receipts whose puts took a put number above
// found (this instance's, as Redis came back with it) from the journal
// and hands them to the outage buffer (a goroutine: the buffer takes its
// own lock). It returns how many.
func (q *RedisQueue) replayLocked(sys string, found int64) int {
	if q.replayTo == nil {
		return 0
	}
	rs := q.journal.take(sys, found)
	if len(rs) == 0 {
		return 0
	}
	if q.replayed != nil {
		q.replayed.Add(float64(len(rs)))
	}
	to := q.replayTo
	go to(sys, rs)
	return len(rs)
}
