package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
)

// ErrResponderClosed is what Serve returns after Shutdown.
var ErrResponderClosed = errors.New("bench: responder closed")

// ResponderConfig configures the minimal SMSC used as the benchmark ceiling.
type ResponderConfig struct {
	// Receipts sends a DELIVRD deliver_sm for every accepted submit_sm
	// right after its response, in the gateway's format: on the same
	// connection when it is bound as a transceiver, else on a receiver
	// bound with the same system_id (round-robin).
	Receipts bool
}

// ResponderStats counts what the responder did.
type ResponderStats struct {
	Submits        int64 // submit_sm answered ESME_ROK
	Receipts       int64 // deliver_sm answered ESME_ROK
	ReceiptsFailed int64 // deliver_sm refused, unanswered or not sent
	Other          int64 // other requests, answered generic_nack
}

func (s *ResponderStats) add(o ResponderStats) {
	s.Submits += o.Submits
	s.Receipts += o.Receipts
	s.ReceiptsFailed += o.ReceiptsFailed
	s.Other += o.Other
}

// Responder is the ceiling the gateway is measured against: the least an
// SMSC on this machine can do per message. It shares no code with the
// gateway's session layer or codec. Per connection one reader parses the
// 16-octet header (and, only to send a receipt, the submit_sm's two
// addresses), answers at once into a pending buffer, and one writer
// hands whatever is pending to the kernel in one write, so a burst of
// requests costs one write(2). It accepts any bind, keeps no session
// state beyond the bound system_id, and checks only command_length.
type Responder struct {
	cfg    ResponderConfig
	idBase uint64 // random top 16 bits, so ids differ across restarts

	mu        sync.Mutex
	ln        net.Listener
	closed    bool
	conns     map[*rconn]struct{}
	receivers map[string][]*rconn // by system_id: binds that take deliver_sm
	rr        uint64              // round-robin over receivers
	serial    uint64              // connections accepted, part of each id
	totals    ResponderStats      // of closed connections
	wg        sync.WaitGroup      // connection goroutines
}

// NewResponder builds a responder; Serve starts it.
func NewResponder(cfg ResponderConfig) (*Responder, error) {
	var seed [2]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("bench: id seed: %w", err)
	}
	return &Responder{
		cfg:       cfg,
		idBase:    uint64(binary.BigEndian.Uint16(seed[:])) << 48,
		conns:     map[*rconn]struct{}{},
		receivers: map[string][]*rconn{},
	}, nil
}

// Serve accepts connections on ln until Shutdown, then returns
// ErrResponderClosed.
func (r *Responder) Serve(ln net.Listener) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = ln.Close()
		return ErrResponderClosed
	}
	r.ln = ln
	r.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			r.mu.Lock()
			closed := r.closed
			r.mu.Unlock()
			if closed {
				return ErrResponderClosed
			}
			return fmt.Errorf("bench: accept: %w", err)
		}
		if !r.start(nc) {
			_ = nc.Close()
		}
	}
}

// start registers a connection and runs its reader and writer.
func (r *Responder) start(nc net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.serial++
	c := newConn(r, nc, r.idBase|(r.serial&0xFFFF)<<32)
	r.conns[c] = struct{}{}
	r.wg.Add(2)
	go func() { defer r.wg.Done(); c.readLoop() }()
	go func() { defer r.wg.Done(); c.writeLoop() }()
	return true
}

// Shutdown stops accepting, sends unbind on every connection and waits
// for them to end; those still open when ctx ends are closed.
func (r *Responder) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	if r.ln != nil {
		_ = r.ln.Close()
	}
	open := make([]*rconn, 0, len(r.conns))
	for c := range r.conns {
		open = append(open, c)
	}
	r.mu.Unlock()
	for _, c := range open {
		c.unbind()
	}
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	for _, c := range open {
		c.close()
	}
	<-done
	return ctx.Err()
}

// Stats returns the counters so far.
func (r *Responder) Stats() ResponderStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.totals
	for c := range r.conns {
		st.add(c.stats())
	}
	return st
}

// bound records a bind; receivers and transceivers take receipts.
func (r *Responder) bound(c *rconn, systemID string, receiver bool) {
	if !receiver {
		return
	}
	r.mu.Lock()
	r.receivers[systemID] = append(r.receivers[systemID], c)
	r.mu.Unlock()
}

// nextReceiver picks a receiver of systemID round-robin, as the gateway
// routes a transmitter's receipts; nil when none is bound.
func (r *Responder) nextReceiver(systemID string) *rconn {
	r.mu.Lock()
	defer r.mu.Unlock()
	rx := r.receivers[systemID]
	if len(rx) == 0 {
		return nil
	}
	r.rr++
	return rx[r.rr%uint64(len(rx))]
}

// forget removes a connection that ended and keeps its counts.
func (r *Responder) forget(c *rconn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, c)
	if c.systemID != "" {
		rx := r.receivers[c.systemID]
		for i, o := range rx {
			if o == c {
				r.receivers[c.systemID] = append(rx[:i:i], rx[i+1:]...)
				break
			}
		}
	}
	st := c.stats()
	// What was sent and never answered failed.
	st.ReceiptsFailed += c.delivered.Load() - st.Receipts - st.ReceiptsFailed
	r.totals.add(st)
}
