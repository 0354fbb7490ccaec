package bench

import (
	"bufio"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// maxPending bounds the octets waiting for the writer; a reader that
// would pass it waits, so a peer that does not read stops being read.
const maxPending = 1 << 20

// rconn is one responder connection: a reader goroutine that answers, a
// writer goroutine that writes whatever has accumulated.
type rconn struct {
	r      *Responder
	nc     net.Conn
	idBase uint64 // this connection's id space: the counter goes below it

	// Owned by the reader.
	ids      uint64
	systemID string
	receiver bool // bound as a receiver or transceiver: takes deliver_sm
	scratch  []byte
	date     receiptDate

	mu        sync.Mutex
	room      *sync.Cond // signalled when the writer took the pending octets
	out       []byte
	lastWrite bool // close once out is written (unbind_resp, generic_nack for a bad length)
	closed    bool
	kick      chan struct{} // capacity 1: there is something to write
	done      chan struct{}
	once      sync.Once

	seq       atomic.Uint32 // the responder's own requests (deliver_sm, unbind)
	delivered atomic.Int64  // deliver_sm queued on this connection

	submits, receipts, receiptsFailed, other atomic.Int64
}

func newConn(r *Responder, nc net.Conn, idBase uint64) *rconn {
	c := &rconn{r: r, nc: nc, idBase: idBase, kick: make(chan struct{}, 1), done: make(chan struct{})}
	c.room = sync.NewCond(&c.mu)
	return c
}

func (c *rconn) stats() ResponderStats {
	return ResponderStats{
		Submits: c.submits.Load(), Receipts: c.receipts.Load(),
		ReceiptsFailed: c.receiptsFailed.Load(), Other: c.other.Load(),
	}
}

// nextSeq is 1..0x7FFFFFFF, as SMPP wants for requests.
func (c *rconn) nextSeq() uint32 {
	return (c.seq.Add(1)-1)%0x7FFFFFFF + 1
}

// enqueue appends b for the writer; delivers counts the deliver_sm in it.
// last closes the connection once b is written. It reports false when the
// connection is closed.
func (c *rconn) enqueue(b []byte, delivers int64, last bool) bool {
	c.mu.Lock()
	for len(c.out) >= maxPending && !c.closed {
		c.room.Wait()
	}
	if c.closed || c.lastWrite {
		c.mu.Unlock()
		return false
	}
	c.out = append(c.out, b...)
	c.lastWrite = last
	c.delivered.Add(delivers)
	c.mu.Unlock()
	c.kickWriter()
	return true
}

// writeLoop writes everything pending in one write(2) each time it wakes:
// while it writes, the reader queues the next batch.
func (c *rconn) writeLoop() {
	var spare []byte
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		c.mu.Lock()
		batch, last := c.out, c.lastWrite
		c.out = spare[:0]
		c.room.Broadcast()
		c.mu.Unlock()
		if len(batch) > 0 {
			if _, err := c.nc.Write(batch); err != nil {
				c.close()
				return
			}
		}
		if last {
			c.close()
			return
		}
		spare = batch
	}
}

// close ends the connection once; the reader then finishes.
func (c *rconn) close() {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.room.Broadcast()
		c.mu.Unlock()
		close(c.done)
		_ = c.nc.Close()
	})
}

// unbind asks the peer to unbind; its unbind_resp closes the connection.
// It never waits for room: a peer that stopped reading must not hold up
// Shutdown, which closes it when its deadline comes.
func (c *rconn) unbind() {
	c.mu.Lock()
	if !c.closed && !c.lastWrite {
		c.out = appendHeader(c.out, cmdUnbind, 0, c.nextSeq())
	}
	c.mu.Unlock()
	c.kickWriter()
}

func (c *rconn) kickWriter() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// readLoop reads PDUs until the connection ends. Bodies are looked at in
// place in the read buffer (Peek), never copied.
func (c *rconn) readLoop() {
	defer c.r.forget(c)
	if c.read() {
		// The last answer is queued: the writer closes once it is out.
		<-c.done
	}
	c.close()
}

// read handles PDUs until the connection fails (false) or a PDU ends it
// after its answer (true).
func (c *rconn) read() bool {
	br := bufio.NewReaderSize(c.nc, maxCommandLength)
	for {
		hb, err := br.Peek(headerLen)
		if err != nil {
			return false
		}
		h := parseHeader(hb)
		if h.length < headerLen || h.length > maxCommandLength {
			// The stream can no longer be framed: say so and close.
			c.enqueue(appendHeader(nil, cmdGenericNack, statusInvCmdLen, h.sequence), 0, true)
			return true
		}
		frame, err := br.Peek(int(h.length))
		if err != nil {
			return false
		}
		if !c.handle(h, frame[headerLen:]) {
			return true
		}
		if _, err := br.Discard(int(h.length)); err != nil {
			return false
		}
	}
}

// handle answers one PDU; false ends the connection once what is queued
// is written.
func (c *rconn) handle(h header, body []byte) bool {
	switch h.command {
	case cmdSubmitSM:
		return c.submit(h, body)
	case cmdBindReceiver, cmdBindTransmitter, cmdBindTransceiver:
		// Any bind is accepted; only the system_id is kept, to route a
		// transmitter's receipts to a receiver of the same account.
		if n := cstring(body, 16); n > 0 && c.systemID == "" {
			c.systemID = string(body[:n-1])
			c.receiver = h.command != cmdBindTransmitter
			c.r.bound(c, c.systemID, c.receiver)
		}
		return c.enqueue(appendBindResp(c.scratch[:0], h.command, h.sequence), 0, false)
	case cmdDeliverSM | respBit:
		if h.status == 0 {
			c.receipts.Add(1)
		} else {
			c.receiptsFailed.Add(1)
		}
		return true
	case cmdEnquireLink:
		return c.enqueue(appendHeader(c.scratch[:0], cmdEnquireLink|respBit, 0, h.sequence), 0, false)
	case cmdUnbind:
		c.enqueue(appendHeader(c.scratch[:0], cmdUnbind|respBit, 0, h.sequence), 0, true)
		return false
	case cmdUnbind | respBit:
		c.close()
		return false
	}
	if h.command&respBit != 0 {
		return true // another response (enquire_link_resp, generic_nack): nothing to do
	}
	c.other.Add(1)
	return c.enqueue(appendHeader(c.scratch[:0], cmdGenericNack, statusInvCmdID, h.sequence), 0, false)
}

// submit answers a submit_sm with a fresh id and, with receipts on, queues
// its receipt right behind the response (or on a receiver of the account).
func (c *rconn) submit(h header, body []byte) bool {
	c.ids++
	id := c.idBase | c.ids&0xFFFFFFFF
	b := appendSubmitResp(c.scratch[:0], h.sequence, id)
	if !c.r.cfg.Receipts {
		c.scratch = b
		c.submits.Add(1)
		return c.enqueue(b, 0, false)
	}
	src, dst, ok := submitAddresses(body)
	if !ok {
		c.other.Add(1)
		c.scratch = appendHeader(b[:0], cmdSubmitSM|respBit, statusInvMsgLen, h.sequence)
		return c.enqueue(c.scratch, 0, false)
	}
	c.submits.Add(1)
	to := c
	if !c.receiver {
		to = c.r.nextReceiver(c.systemID)
	}
	date := c.date.at(time.Now())
	if to == c {
		b = appendReceipt(b, c.nextSeq(), id, src, dst, date)
		c.scratch = b
		return c.enqueue(b, 1, false)
	}
	c.scratch = b
	if !c.enqueue(b, 0, false) {
		return false
	}
	if to == nil || !to.enqueue(appendReceipt(b[len(b):], to.nextSeq(), id, src, dst, date), 1, false) {
		c.receiptsFailed.Add(1)
	}
	return true
}
