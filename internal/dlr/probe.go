package dlr

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// probeInterval is how long a prober waits between two rounds over the
// accounts whose claims failed.
const probeInterval = 250 * time.Millisecond

// probeRun is where a shard starts its prober: the context that ends it
// and the group runShards waits on. Set by runShards before the loops
// start.
type probeRun struct {
	ctx context.Context
	wg  *sync.WaitGroup
}

// A claim that fails sets its account aside: the loop claims for it again
// only once the account's keys answer again, which the shard's prober
// finds out by asking the queue for the account's next due time (one
// read on the master of the account's slot) every probeInterval. Without
// it, every step of the loop claimed for the account again and, on a
// Cluster whose master hangs rather than refuses, waited out OpTimeout
// (2 s) each time, holding the claims of every other account of the shard
// (the healthy masters' ones) that long. A shard has one prober at most,
// started by the first account set aside and ended when none is left (or
// the loops stop), so a Redis down for every account costs one goroutine
// per shard, asking one account at a time.

// probeParallel bounds the probes of one round in flight at once: with
// several accounts on a hung master, each probe waits out OpTimeout, and
// an account that answers must not wait for all of them in turn.
const probeParallel = 16

// setAside marks sys as failing and starts the prober if none runs.
// Outside runShards (no prober can run) it does nothing: the next step
// claims again.
func (s *shard) setAside(sys string) {
	s.mu.Lock()
	if s.probes.wg == nil || s.probes.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	s.suspect[sys] = true
	start := !s.probing
	if start {
		s.probing = true
		// Set here, not by the prober when it gets to run: a clock
		// that moves past it meanwhile fires its timer at once.
		s.probeAt = s.d.o.Clock.Now().Add(probeInterval)
		s.probes.wg.Add(1)
	}
	s.mu.Unlock()
	if start {
		go s.prober(s.probes.ctx)
	}
}

// probeDueLocked reports whether a probe round is due and not yet done:
// the loop answers no sync meanwhile (the round pokes it when done).
// s.mu is held.
func (s *shard) probeDueLocked() bool {
	return s.probing && !s.d.o.Clock.Now().Before(s.probeAt)
}

// prober waits until probeAt, then asks the queue about each account set
// aside, until every one has answered or ctx ends; an account that
// answers is claimed for again at the loop's next step, which it wakes.
func (s *shard) prober(ctx context.Context) {
	defer s.probes.wg.Done()
	d := s.d
	var todo []string
	for {
		s.mu.Lock()
		at := s.probeAt
		s.mu.Unlock()
		t := d.o.Clock.TimerAt(at)
		select {
		case <-ctx.Done():
		case <-t.C():
		}
		t.Stop()
		s.mu.Lock()
		todo = todo[:0]
		for sys := range s.suspect {
			todo = append(todo, sys)
		}
		if len(todo) == 0 || ctx.Err() != nil {
			// Stopping: the accounts are tried again by the next Run or
			// Drain, whose claims find out for themselves.
			clear(s.suspect)
			s.probing = false
			s.mu.Unlock()
			s.poke()
			return
		}
		s.mu.Unlock()
		s.probeRound(ctx, todo)
		s.mu.Lock()
		s.probeAt = d.o.Clock.Now().Add(probeInterval)
		s.mu.Unlock()
		s.poke() // claims for the accounts back; answers a sync that waited for the round
	}
}

// probeRound asks the queue for the next due time of each account of
// todo, probeParallel at a time, and takes those that answer off the
// suspects, waking the loop for each. A failure is reported as the claims' (dlr.claim_failed,
// repeated while it lasts): no claim is tried meanwhile.
func (s *shard) probeRound(ctx context.Context, todo []string) {
	d := s.d
	sem := make(chan struct{}, probeParallel)
	var wg sync.WaitGroup
	for _, sys := range todo {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			opCtx, cancel := d.sweepCtx(ctx)
			_, _, err := d.q.NextDue(opCtx, sys)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					d.claimLog.Failed(ctx, sys, err, slog.String("system_id", sys))
				}
				return
			}
			s.mu.Lock()
			delete(s.suspect, sys)
			s.mu.Unlock()
			s.poke() // claimed for at once, not after the round's slowest probe
		})
	}
	wg.Wait()
}
