package dlr

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// shard is one scheduling loop and the accounts whose system_id hashes to
// it. Each shard has its own wake channel, lock, set of held receipts and
// answer goroutine, so the loops of different shards share nothing on the
// hot path but the queue and the dispatcher's global in-flight count:
// receipts of several accounts use several cores, while one account's
// receipts are claimed and sent by one goroutine, in order.
//
// Within a shard the work is split in two: the loop claims and sends; the
// answers to what it sent are settled in the queue (Ack, or Retry with
// backoff) by the shard's answer goroutine (answers.go), so even a single
// account's receipts can use two cores.
type shard struct {
	d       *Dispatcher
	index   int
	wake    chan struct{}
	syncReq chan chan struct{} // fed by Dispatcher.forwardSyncs (tests)
	// starved is set while the shard waits for room under MaxInFlight,
	// which answers (of any shard) free: they poke it.
	starved atomic.Bool
	// nextWake is when the loop next wakes by itself (unix nanos): a
	// receipt due earlier pokes it.
	nextWake atomic.Int64
	ans      answers

	mu        sync.Mutex
	receivers map[string]int
	blocked   map[string]time.Time // ErrNoReceiver seen: skip until then
	// suspect are the accounts whose last claim failed, skipped until the
	// prober hears from their keys again (probe.go); probing is set while
	// the prober runs.
	suspect map[string]bool
	// claiming are the accounts whose claim a step left to finish on its
	// own (ClaimWait), skipped until its result, in late, is taken by a
	// step (lateclaim.go).
	claiming map[string]bool
	late     []lateClaim
	// refusing are the accounts whose receivers refused their last
	// deliver_sm, paused after refusalsBeforePause in a row (refusal.go).
	refusing map[string]*refusalRun
	// refusingN is len(refusing), read by the answer goroutine without
	// s.mu: while it is 0 a batch of answers without refusals skips it.
	refusingN atomic.Int32
	probing   bool
	probeAt   time.Time // the prober's next round
	probes    probeRun
	// held has the id of every receipt sent and not yet settled: awaiting
	// its answer, or answered and being acknowledged (or retried). The
	// queue still has them, and once their lease ends a claim hands them
	// out again, which must not send them twice. An id leaves held at the
	// first step that starts after its Ack (or Retry) returned (settled
	// lists those), since a claim begun before the Ack landed may return
	// it.
	held    map[string]struct{}
	settled []settledID
	// returned are the tickets of settled answers, for the loop to take
	// over (reclaimTicketsLocked).
	returned []*ticket

	// Owned by the loop goroutine: buffers reused from step to step, and
	// the deliver_sm being sent (the Sender only reads it during Deliver).
	accounts []string
	sm       pdu.DeliverSM
	smBuf    []byte
	smLens   []smLen   // per receipt of the batch being sent: see deliverBodies
	tickets  []*ticket // free: see takeTicket
	dates    dateStamps
}

// settledID is a receipt whose answer was settled, and its account.
type settledID struct{ id, sys string }

// smLen is the length of one receipt's deliver_sm body (text and TLVs) in
// its batch's string, and of its text.
type smLen struct{ body, text int }

// result is the answer to one deliver_sm, or a claimed receipt found
// expired. r points into the batch the receipt was claimed in, which stays
// untouched until its answers are settled, so an answer costs no copy of
// the receipt.
type result struct {
	r       *Receipt
	status  pdu.Status
	err     error
	expired bool    // not sent: past ExpiresAt when claimed
	t       *ticket // the callback that answered, given back once settled
}

func newShard(d *Dispatcher, index int) *shard {
	return &shard{
		d:         d,
		index:     index,
		wake:      make(chan struct{}, 1),
		syncReq:   make(chan chan struct{}),
		receivers: make(map[string]int),
		blocked:   make(map[string]time.Time),
		suspect:   make(map[string]bool),
		claiming:  make(map[string]bool),
		refusing:  make(map[string]*refusalRun),
		held:      make(map[string]struct{}),
		ans:       answers{kick: make(chan struct{}, 1)},
	}
}

// shardOf returns the shard owning systemID (FNV-1a of the id, so the same
// account always lands on the same shard and its receipts keep their order).
func (d *Dispatcher) shardOf(systemID string) *shard {
	if len(d.shards) == 1 {
		return d.shards[0]
	}
	h := uint32(2166136261)
	for i := 0; i < len(systemID); i++ {
		h ^= uint32(systemID[i])
		h *= 16777619
	}
	return d.shards[h%uint32(len(d.shards))]
}

func (s *shard) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// runShards runs every shard's loop and answer goroutine, and the sweeper,
// and returns when all have returned: the answer goroutines end once the
// loops have, after the batch they hold; the sweeper's queue calls are cut
// then. The sweep (expiry, the count refresh, lease upkeep: once per
// SweepInterval, not once per shard) has a goroutine of its own rather
// than a loop's turn: its calls touch every account, and on a Cluster with
// a hung master each waits out OpTimeout, which must not hold the claims
// of the accounts on the healthy masters.
//
// A drain ends no sooner than its first sweep, which may make receipts
// due at once (the leases of claims whose replies were lost, taken back):
// swept is closed after it.
func (d *Dispatcher) runShards(ctx context.Context, stop <-chan struct{}, horizon time.Time, drain bool) {
	if !drain {
		select {
		case <-stop: // Drain came first: no sweep after it
			return
		default:
		}
	}
	var loops, settlers, probers sync.WaitGroup
	quit := make(chan struct{})
	swept := make(chan struct{})
	pctx, stopProbes := context.WithCancel(ctx)
	for _, s := range d.shards {
		s.probes = probeRun{ctx: pctx, wg: &probers}
		settlers.Go(func() { s.settler(quit) })
		loops.Go(func() { s.loop(ctx, stop, horizon, drain, swept) })
	}
	sctx, stopSweeper := context.WithCancel(ctx)
	sweepSync := make(chan chan struct{})
	var sweeper sync.WaitGroup
	sweeper.Go(func() { d.sweeper(sctx, sweepSync, swept) })
	done := make(chan struct{})
	go d.forwardSyncs(done, sweepSync)
	loops.Wait()
	stopSweeper()
	stopProbes()
	sweeper.Wait()
	probers.Wait()
	close(done)
	close(quit)
	settlers.Wait()
}

// forwardSyncs answers a request on d.syncReq (tests: "has everything that
// happened before been handled?") once the sweeper has run any sweep
// that was due and every shard has been idle after it. Shards do not make
// work for each other, so asking them one by one is enough.
func (d *Dispatcher) forwardSyncs(done <-chan struct{}, sweepSync chan chan struct{}) {
	for {
		var c chan struct{}
		select {
		case <-done:
			return
		case c = <-d.syncReq:
		}
		// The sweeper first: its sweep makes work for the shards (leases
		// taken back, due at once), which their syncs then step over.
		targets := make([]chan chan struct{}, 0, len(d.shards)+1)
		targets = append(targets, sweepSync)
		for _, s := range d.shards {
			targets = append(targets, s.syncReq)
		}
		for _, req := range targets {
			sc := make(chan struct{})
			select {
			case req <- sc:
			case <-done:
				return
			}
			select {
			case <-sc:
			case <-done:
				return
			}
		}
		close(c)
	}
}

// reserve takes up to n of the deliver_sm that all shards together may
// have in flight (MaxInFlight) for sys, within its share while other
// accounts want places too (inflightShares), and returns how many it
// took; the caller gives back what it does not send. full is set when no
// place is left for any account. A shard that finds no room is marked
// starved first, so that an answer handled by another shard at the same
// time either leaves room seen here or pokes it.
func (s *shard) reserve(sys string, n int, now time.Time) (k int, full bool) {
	s.starved.Store(true)
	k, full = s.d.inflight.reserve(sys, n, now)
	if k > 0 {
		s.starved.Store(false)
	}
	return k, full
}

// giveBack returns k places of sys under MaxInFlight: reserved and unused,
// or answered. A shard may have found no room because of them and be
// waiting for an answer to wake it: it is woken as by an answer, or it
// would sleep until its next receipt comes due.
func (d *Dispatcher) giveBack(sys string, k int) {
	if k <= 0 {
		return
	}
	d.inflight.release(sys, k)
	d.freed()
}

// freed tells the shards waiting for room under MaxInFlight that answers
// (or returned reservations) made some.
func (d *Dispatcher) freed() {
	for _, s := range d.shards {
		if s.starved.CompareAndSwap(true, false) {
			s.poke()
		}
	}
}
