package dlr

import (
	"strconv"
	"strings"
	"time"
)

// lossShares is what one instance knows of an account's pending receipts
// in Redis, to count them should Redis lose the account's keys.
//
// Redis numbers the account's counts (countLua: each count takes the next
// number of a sequence kept with the account's keys), and every put and
// ack of this instance reads the current number with its write. So the
// instance knows, for each of its writes, after which count it came. What
// Redis held when it lost the account is what any one count found plus
// every write after that count, by every instance. The instance that
// finds the marker gone takes its own last count: it counts that count's
// pending plus its own writes after it, and names the count in the new
// marker (markerFor); every other instance, finding that marker, counts
// its own writes after the same count. The sum is exact whenever the
// counts ran. An instance that acknowledged more than it stored after
// that count has a negative share: the shares are summed in Redis before
// the loss is reported (losssettle.go), as a counter cannot go down.
//
// It is used under RedisQueue.mu.
type lossShares struct {
	countSeq int64 // the number of this instance's last count (0: none)
	held     int   // pending at that count
	lastSeq  int64 // the highest number a reply of this instance showed
	// ownPut is the highest put number (ownPutsLua) a put of this
	// instance took and was acknowledged for (replicated, with
	// REDIS_WAIT_REPLICAS), at ownAt: what Redis must still show
	// (wentback.go).
	ownPut int64
	ownAt  time.Time
	// puts: the last putsRemembered put numbers replies of this
	// instance's puts brought (0: none yet), putsNext the next to
	// overwrite, putsAt when the last was recorded (tookPut).
	puts     [putsRemembered]putTaken
	putsNext int
	putsAt   time.Time
	// recent: this instance's last counts (number, pending), newest
	// last: the marker a script writes names the count current when the
	// call was built, and a later count may be recorded before its reply.
	recent []countAt
	// nets: count number → receipts this instance stored less those it
	// removed after that count and before the next (write numbers rounded
	// down by countOf), with when the first was recorded (entries are
	// forgotten after shareMemory).
	nets map[int64]*netShare
}

type netShare struct {
	n      int
	stored int // of which stored (n counts removals too)
	first  time.Time
}

type countAt struct {
	seq  int64
	held int
}

// countStride: a count takes the next multiple of it in the account's
// sequence, a put the next number (countLua), so the count a write came
// after is its number rounded down to a multiple (countOf). Far more puts
// of one account than fit between two counts (a sweep every couple of
// seconds).
const countStride = 1 << 20

// countOf is the number of the count that write number seq came after.
func countOf(seq int64) int64 { return seq - seq%countStride }

// recentCounts is how many of its last counts an instance keeps.
const recentCounts = 8

// shareMemory is how long an instance remembers its writes after a
// count: far longer than the sweeps' interval, after which every instance
// has counted again.
const shareMemory = time.Minute

// counted records this instance's count number seq, which found held
// pending. A count that could not take a number (seq < 1) changes
// nothing: the last count stays the base.
func (s *lossShares) counted(seq int64, held int, now time.Time) {
	if seq < 1 {
		return
	}
	s.countSeq, s.held = seq, held
	s.lastSeq = max(s.lastSeq, seq)
	if len(s.recent) == recentCounts {
		s.recent = append(s.recent[:0], s.recent[1:]...)
	}
	s.recent = append(s.recent, countAt{seq, held})
	for k, v := range s.nets {
		if now.Sub(v.first) > shareMemory {
			delete(s.nets, k)
		}
	}
}

// wrote records n receipts stored (n < 0: removed) after count seq; seq
// < 0 (the write did not say): after the last count this instance saw.
func (s *lossShares) wrote(seq int64, n int, now time.Time) {
	if n == 0 {
		return
	}
	if seq < 0 {
		seq = s.lastSeq
	}
	s.lastSeq = max(s.lastSeq, seq)
	if s.nets == nil {
		s.nets = make(map[int64]*netShare)
	}
	// One entry per count, not per write: a put takes a number of its own.
	k := countOf(seq)
	v := s.nets[k]
	if v == nil {
		v = &netShare{first: now}
		s.nets[k] = v
	}
	v.n += n
	if n > 0 {
		v.stored += n
	}
}

// putNumber records the put number own that an acknowledged put of this
// instance took at now. One older than ownPutForget is replaced whatever
// its size: Redis lets the number expire after 10 minutes without a put,
// and numbers then start again from 1; kept, the old one would leave the
// account unjudged until the new ones passed it.
func (s *lossShares) putNumber(own int64, now time.Time) {
	if own > s.ownPut || now.Sub(s.ownAt) >= ownPutForget {
		s.ownPut, s.ownAt = own, now
	}
}

// putsRemembered is how many of its latest put numbers an account's
// shares keep to find one taken twice (tookPut): more than the puts of
// an account that can be in flight at once (two group commits, the
// outage buffer's write-back).
const putsRemembered = 64

// putTaken is a put number a reply of this instance's puts brought.
type putTaken struct {
	own      int64
	acked    bool   // stored and replicated as asked (its WAIT did not fail)
	recorded uint64 // RedisQueue.putReplies once it was recorded
}

// tookPut records p, the reply of a put built when RedisQueue.putReplies
// was built, and reports whether it and another put with the same number
// show that Redis lost a put it had acknowledged. Redis gives each number
// once; twice means two masters numbered puts from the same point (a
// graceful failover: the old one until Sentinel turns it into a replica,
// the promoted one from the moment the client moves to it), and one of
// the two puts is gone. That loses an acknowledged put when both were
// acknowledged, or when one was and the two were in flight together (which
// ran where cannot be told). Not when neither was, nor when the
// unacknowledged one (its WAIT failed, its receipts buffered) was
// recorded before the acknowledged one was built: the client had moved
// to the promoted master, and the put it lost was never acknowledged.
// Puts in flight together are both built before either reply, so neither
// is judged below the other's number by checkSeqLocked. Numbers recorded
// ownPutForget or longer before now are forgotten first: Redis may have
// let the number expire since, and numbers start again.
func (s *lossShares) tookPut(p putTaken, built uint64, now time.Time) bool {
	if now.Sub(s.putsAt) >= ownPutForget {
		clear(s.puts[:])
	}
	s.putsAt = now
	lostAcked := false
	for _, e := range s.puts {
		if e.own != p.own {
			continue
		}
		together := built < e.recorded
		if (e.acked && p.acked) || ((e.acked || p.acked) && together) {
			lostAcked = true
		}
	}
	s.puts[s.putsNext] = p
	s.putsNext = (s.putsNext + 1) % putsRemembered
	return lostAcked
}

// keepPutsOf carries the put numbers of old, the shares of a history
// another instance ended (a went-back marker), into s: what this
// instance was acknowledged for is still what Redis must show, and its
// own next put or count judges it (checkSeqLocked).
func (s *lossShares) keepPutsOf(old *lossShares) {
	if old == nil {
		return
	}
	s.ownPut, s.ownAt, s.puts, s.putsNext, s.putsAt = old.ownPut, old.ownAt, old.puts, old.putsNext, old.putsAt
}

// ownPutForget: a put number older than this is not judged. Redis keeps
// it 10 minutes after the instance's last put (ownPutsLua) and must not
// be found to have "lost" one it let expire; what a went-back would
// replay is a minute old at most anyway (the journal).
const ownPutForget = 5 * time.Minute

// storedSince sums the receipts this instance stored after count seq
// (removals not taken off).
func (s *lossShares) storedSince(seq int64) int {
	return s.sumSince(seq, func(v *netShare) int { return v.stored })
}

// since sums this instance's writes after count seq.
func (s *lossShares) since(seq int64) int {
	return s.sumSince(seq, func(v *netShare) int { return v.n })
}

func (s *lossShares) sumSince(seq int64, of func(*netShare) int) int {
	n := 0
	for k, v := range s.nets {
		if k >= seq {
			n += of(v)
		}
	}
	return n
}

// heldNow is what the account held as far as this instance can tell: its
// last count's pending plus its own writes since.
func (s *lossShares) heldNow() int { return s.held + s.since(s.countSeq) }

// heldFrom is heldNow from this instance's count seq, the one its marker
// named (the other instances count their writes after that same count);
// heldNow when it no longer remembers that count.
func (s *lossShares) heldFrom(seq int64) int {
	for _, c := range s.recent {
		if c.seq == seq {
			return c.held + s.since(seq)
		}
	}
	return s.heldNow()
}

// markerFor is the epoch marker this instance writes when it finds the
// account's marker gone: its token, and the number of the count its own
// loss count starts from; 0 when it has not counted the account (a new
// account, or a new instance): it then counts every write of its own,
// and so does every other instance.
func markerFor(token string, s *lossShares) string {
	var seq int64
	if s != nil {
		seq = max(s.countSeq, 0)
	}
	return token + "/" + strconv.FormatInt(seq, 10)
}

// markerToken is the token of an epoch marker, without its count number.
func markerToken(m string) string {
	t, _, _ := strings.Cut(m, "/")
	return t
}

// markerCount is the count number an epoch marker names, if any: its
// writer counted what the account held at that count (0: it counted its
// own writes only). An earlier version's marker names none.
func markerCount(m string) (int64, bool) {
	_, c, ok := strings.Cut(m, "/")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(c, 10, 64)
	return n, err == nil && n >= 0
}
