package dlr

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// answers queues the results a shard has to settle. The shard's answer
// goroutine (settler), started with the loops, settles them in the queue
// while the loop claims and sends the next batch, so the two queue round
// trips overlap and the answers' work is off the loop.
type answers struct {
	mu       sync.Mutex
	results  []result
	spare    []result // the other buffer: results and spare take turns
	settling bool     // the settler holds a batch
	kick     chan struct{}
}

// ticket is the callback of one deliver_sm in flight: it records the
// answer for r, a pointer into the claimed batch. A ticket is used again
// once its answer is settled, so a receipt sent costs no new closure: the
// loop takes one (takeTicket), the settler gives it back (settle), the
// loop takes the given-back ones over at its next step.
type ticket struct {
	s    *shard
	r    *Receipt
	done func(pdu.PDU, error) // t.answer, made once per ticket
}

func (t *ticket) answer(resp pdu.PDU, err error) {
	s := t.s // t may be reused once the answer is settled
	s.answer(result{r: t.r, status: resp.Status, err: err, t: t})
	s.poke() // the receivers' windows have room again
}

// takeTicket returns a ticket for r. Only the loop calls it.
func (s *shard) takeTicket(r *Receipt) *ticket {
	var t *ticket
	if n := len(s.tickets); n > 0 {
		t = s.tickets[n-1]
		s.tickets[n-1] = nil
		s.tickets = s.tickets[:n-1]
	} else {
		t = &ticket{s: s}
		t.done = t.answer
	}
	t.r = r
	return t
}

// dropTicket keeps t, whose deliver_sm was not sent, for the next
// receipt. Only the loop calls it.
func (s *shard) dropTicket(t *ticket) {
	t.r = nil
	s.tickets = append(s.tickets, t)
}

// reclaimTicketsLocked takes over the tickets the settler gave back.
// s.mu is held.
func (s *shard) reclaimTicketsLocked() {
	for i, t := range s.returned {
		s.tickets = append(s.tickets, t)
		s.returned[i] = nil
	}
	s.returned = s.returned[:0]
}

// answer queues x for the settler. Only the first result of an empty list
// kicks it: the settler takes the whole list at once.
func (s *shard) answer(x result) {
	a := &s.ans
	a.mu.Lock()
	a.results = append(a.results, x)
	first := len(a.results) == 1
	a.mu.Unlock()
	if first {
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
}

// settler settles queued results until quit is closed. Results queued
// when it returns wait for the next one (Drain starts its own).
func (s *shard) settler(quit <-chan struct{}) {
	a := &s.ans
	var w settleBufs
	for {
		select {
		case <-quit:
			return
		case <-a.kick:
		}
		var done []result
		for {
			a.mu.Lock()
			if done != nil {
				clear(done) // drop the pointers into claimed batches
				a.spare = done[:0]
			}
			res := a.results
			if len(res) == 0 {
				a.settling = false
				a.mu.Unlock()
				break
			}
			a.results, a.spare = a.spare[:0], nil
			a.settling = true
			a.mu.Unlock()
			s.settle(res, &w)
			done = res
		}
		s.poke() // the loop may be waiting for the answers (Drain, tests)
	}
}

// answersIdle reports whether no result is waiting or being settled.
func (s *shard) answersIdle() bool {
	s.ans.mu.Lock()
	defer s.ans.mu.Unlock()
	return len(s.ans.results) == 0 && !s.ans.settling
}

// settleBufs are the answer goroutine's buffers, reused from batch to
// batch: the queue's Ack does not keep the receipts it is given.
type settleBufs struct {
	delivered, expired []*Receipt // into the claimed batches
	copies             []Receipt  // for a queue's Ack, which takes values
}

// settle applies a batch of results: a deliver_sm_resp OK or an expired
// receipt is acknowledged (removed, its outcome remembered), a permanent
// refusal dropped, anything else retried with backoff. A failed Ack lets
// the lease run out and the receipt is sent again: at least once. The ids
// stay held until then, so that a claim made meanwhile (the lease ran out
// while the answer or the Ack was on its way) does not send them again.
func (s *shard) settle(res []result, w *settleBufs) {
	d := s.d
	now := d.o.Clock.Now()
	s.noteRefusals(res, now)
	sent := 0
	for i := range res {
		if !res[i].expired {
			sent++
			// Places given back by account, a run of one account's
			// answers at a time (usually the whole batch).
			if i+1 == len(res) || res[i+1].expired || res[i+1].r.SystemID != res[i].r.SystemID {
				d.inflight.release(res[i].r.SystemID, runOf(res, i))
			}
		}
	}
	if sent > 0 {
		d.unanswered.Add(-int64(sent))
		d.freed()
	}
	ctx := context.Background()
	debug := d.o.Logger.Enabled(ctx, slog.LevelDebug)
	delivered, expired := w.delivered[:0], w.expired[:0]
	for _, x := range res {
		r := x.r
		switch {
		case x.expired:
			expired = append(expired, r)
		case x.err == nil && x.status == pdu.StatusOK:
			delivered = append(delivered, r)
			if debug {
				d.o.Logger.Debug("dlr.delivered", "message_id", r.MessageID, "system_id", r.SystemID, "attempts", r.Attempts+1)
			}
			if !r.SubmittedAt.IsZero() {
				d.m.delivered(now.Sub(r.SubmittedAt).Seconds())
			}
		case x.err == nil && (x.status == pdu.StatusXPAppn || x.status == pdu.StatusXRAppn):
			d.o.Logger.Warn("dlr.dropped", "message_id", r.MessageID, "system_id", r.SystemID,
				"status", x.status.String(), "attempts", r.Attempts+1)
			d.m.droppedOne(dropLabel(x.status))
			d.counts.add(r.SystemID, -1)
			d.ack(Outcome{State: pdu.StateUndeliverable, At: now}, *r)
		default:
			err := x.err
			if err == nil {
				err = x.status
			}
			s.failed(ctx, now, *r, err)
		}
	}
	if len(delivered) > 0 {
		d.counts.doneEach(delivered)
		d.ackClaimed(Outcome{State: pdu.StateDelivered, At: now}, delivered, w)
	}
	if len(expired) > 0 {
		d.ackClaimed(Outcome{State: pdu.StateExpired, At: now}, expired, w)
	}
	clear(delivered) // drop the pointers into the batches before the buffers wait
	clear(expired)
	w.delivered, w.expired = delivered[:0], expired[:0]
	// Acked or retried, or the Ack failed and the lease lets the receipts
	// be claimed and sent again: either way no longer held back by claims
	// that start from now on.
	s.mu.Lock()
	for i := range res {
		s.settled = append(s.settled, settledID{id: res[i].r.MessageID, sys: res[i].r.SystemID})
		if t := res[i].t; t != nil {
			t.r = nil
			s.returned = append(s.returned, t)
		}
	}
	s.mu.Unlock()
}

// noteRefusals updates the accounts' refusal runs with res (refusal.go)
// and logs the pauses that start. It runs before the answers' places are
// given back, which wakes the loop: the loop then sees the pause.
func (s *shard) noteRefusals(res []result, now time.Time) {
	if s.refusingN.Load() == 0 && !slices.ContainsFunc(res, func(x result) bool { return refusal(&x) }) {
		return // the usual batch: all taken, no account refusing
	}
	var paused []pausedAccount
	s.mu.Lock()
	for i := range res {
		if pause, inRow := s.noteAnswerLocked(&res[i], now); pause > 0 {
			paused = append(paused, pausedAccount{sys: res[i].r.SystemID, pause: pause, refused: inRow, last: &res[i]})
		}
	}
	s.refusingN.Store(int32(len(s.refusing)))
	s.mu.Unlock()
	for _, p := range paused {
		s.d.o.Logger.Warn("dlr.receivers_refusing", "system_id", p.sys, "refused_in_row", p.refused,
			"pause", p.pause.String(), "last", answerText(p.last))
		s.d.m.pausedOne()
	}
}

// pausedAccount is a pause settle started, logged after s.mu is released.
type pausedAccount struct {
	sys     string
	pause   time.Duration
	refused int
	last    *result
}

// answerText is x's answer for a log line: its status or error.
func answerText(x *result) string {
	if x.err != nil {
		return x.err.Error()
	}
	return x.status.String()
}

// ackClaimed acknowledges claimed receipts with outcome o: by pointer
// when the queue can (claimedAcker), else copied into w.copies for the
// queue's Ack.
func (d *Dispatcher) ackClaimed(o Outcome, rs []*Receipt, w *settleBufs) {
	if d.byRef != nil {
		d.byRef.ackClaimed(o, rs)
		return
	}
	copies := w.copies[:0]
	for _, r := range rs {
		copies = append(copies, *r)
	}
	d.ack(o, copies...)
	clear(copies) // drop the receipts' strings before the buffer waits
	w.copies = copies[:0]
}

func (d *Dispatcher) ack(o Outcome, rs ...Receipt) {
	opCtx, cancel := d.opCtx(context.Background())
	defer cancel()
	if err := d.q.Ack(opCtx, o, rs...); err != nil {
		d.o.Logger.Warn("dlr.ack_failed", "receipts", len(rs), "err", err)
	}
}

// forgetSettledLocked drops from s.held the ids settled since the last
// step. The loop calls it before claiming: a claim that starts afterwards
// no longer finds them in the queue (or, after a failed Ack, may send them
// again). The ids of an account whose claim was left to finish stay: that
// claim may have begun before their acks landed (lateclaim.go); they are
// forgotten at the first step after its result was taken. s.mu is held.
func (s *shard) forgetSettledLocked() {
	kept := s.settled[:0]
	for _, x := range s.settled {
		if s.claiming[x.sys] {
			kept = append(kept, x)
			continue
		}
		delete(s.held, x.id)
	}
	clear(s.settled[len(kept):])
	s.settled = kept
}
