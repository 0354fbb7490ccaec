package esme

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// Errors of the client.
var (
	ErrClosed  = errors.New("esme: connection closed")
	ErrTimeout = errors.New("esme: response timeout")
)

// BindError is a bind answered with a non-zero status.
type BindError struct{ Status pdu.Status }

func (e *BindError) Error() string { return "esme: bind refused: " + e.Status.String() }

// Config says where and how to bind.
type Config struct {
	Addr       string
	TLS        *tls.Config // nil = plain TCP
	SystemID   string
	Password   string
	SystemType string
	Bind       pdu.CommandID // CmdBindTransmitter, CmdBindReceiver or CmdBindTransceiver (default)

	// InterfaceVersion of the bind; default 0x34. Below 0x34 the server
	// sends this client no optional parameters.
	InterfaceVersion uint8
	// LocalAddr is the local IP address to connect from; empty = any.
	LocalAddr string

	// OnDeliver answers a deliver_sm from the server. It runs on the
	// reader goroutine. nil answers ESME_ROK.
	OnDeliver func(*pdu.DeliverSM) pdu.Status

	ResponseTimeout time.Duration // default 10 s
	MaxPDULength    uint32        // default 64 KiB
}

// Client is one SMPP connection.
type Client struct {
	cfg  Config
	conn net.Conn
	seq  atomic.Uint32

	wmu  sync.Mutex
	out  []byte
	kick chan struct{}

	pmu     sync.Mutex
	pending map[uint32]chan<- result
	async   map[uint32]func(pdu.PDU, error)

	done    chan struct{}
	once    sync.Once
	unbound chan struct{} // closed when the server sent unbind
}

type result struct {
	p   pdu.PDU
	err error
}

// Connect opens a connection without binding.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Bind == 0 {
		cfg.Bind = pdu.CmdBindTransceiver
	}
	if cfg.ResponseTimeout <= 0 {
		cfg.ResponseTimeout = 10 * time.Second
	}
	if cfg.MaxPDULength == 0 {
		cfg.MaxPDULength = pdu.DefaultMaxLength
	}
	if cfg.InterfaceVersion == 0 {
		cfg.InterfaceVersion = pdu.InterfaceVersion34
	}
	var d net.Dialer
	if cfg.LocalAddr != "" {
		ip := net.ParseIP(cfg.LocalAddr)
		if ip == nil {
			return nil, fmt.Errorf("esme: local address %q is not an IP address", cfg.LocalAddr)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("esme: dial %s: %w", cfg.Addr, err)
	}
	if cfg.TLS != nil {
		tc := tls.Client(conn, cfg.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("esme: tls handshake: %w", err)
		}
		conn = tc
	}
	c := &Client{
		cfg:     cfg,
		conn:    conn,
		kick:    make(chan struct{}, 1),
		pending: make(map[uint32]chan<- result),
		async:   make(map[uint32]func(pdu.PDU, error)),
		done:    make(chan struct{}),
		unbound: make(chan struct{}),
	}
	go c.readLoop()
	go c.writeLoop()
	return c, nil
}

// Dial connects and binds.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	c, err := Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := c.Bind(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// Bind sends the configured bind and returns a *BindError if refused.
func (c *Client) Bind(ctx context.Context) error {
	resp, err := c.Send(ctx, &pdu.Bind{
		Command: c.cfg.Bind, SystemID: c.cfg.SystemID, Password: c.cfg.Password,
		SystemType: c.cfg.SystemType, InterfaceVersion: c.cfg.InterfaceVersion,
	})
	if err != nil {
		return err
	}
	if resp.Status != pdu.StatusOK {
		return &BindError{Status: resp.Status}
	}
	return nil
}

// NextSequence allocates a sequence number, 1..0x7FFFFFFF.
func (c *Client) NextSequence() uint32 {
	for {
		n := c.seq.Add(1)
		if n <= 0x7FFFFFFF {
			return n
		}
		c.seq.CompareAndSwap(n, 0)
	}
}

// Send sends a request and waits for its response (any status).
func (c *Client) Send(ctx context.Context, body pdu.Body) (pdu.PDU, error) {
	seq := c.NextSequence()
	return c.SendFrame(ctx, seq, pdu.Append(nil, pdu.PDU{Header: pdu.Header{Command: body.CommandID(), Sequence: seq}, Body: body}))
}

// SendFrame writes an already encoded frame and waits for the response
// carrying seq. Tests use it to send malformed PDUs.
func (c *Client) SendFrame(ctx context.Context, seq uint32, frame []byte) (pdu.PDU, error) {
	ch := make(chan result, 1)
	c.pmu.Lock()
	c.pending[seq] = ch
	c.pmu.Unlock()
	c.write(frame)
	t := time.NewTimer(c.cfg.ResponseTimeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.p, r.err
	case <-t.C:
	case <-ctx.Done():
	case <-c.done:
	}
	c.pmu.Lock()
	delete(c.pending, seq)
	c.pmu.Unlock()
	select {
	case r := <-ch:
		return r.p, r.err
	default:
	}
	if ctx.Err() != nil {
		return pdu.PDU{}, ctx.Err()
	}
	select {
	case <-c.done:
		return pdu.PDU{}, ErrClosed
	default:
		return pdu.PDU{}, ErrTimeout
	}
}

// SendAsync sends a request and calls done with its response on the
// reader goroutine. There is no timeout: the load generator tracks its
// own. done gets ErrClosed if the connection ends first (on the goroutine
// closing it), or, when it has ended already, before SendAsync returns;
// done is called once either way.
func (c *Client) SendAsync(body pdu.Body, done func(pdu.PDU, error)) {
	seq := c.NextSequence()
	if !c.registerAsync(seq, done) {
		done(pdu.PDU{}, ErrClosed)
		return
	}
	c.wmu.Lock()
	c.out = pdu.Append(c.out, pdu.PDU{Header: pdu.Header{Command: body.CommandID(), Sequence: seq}, Body: body})
	c.wmu.Unlock()
	c.kickWriter()
}

// registerAsync records done as the callback of seq; false when the
// connection has ended, and shut has called (or is calling) the callbacks
// recorded: it would never call done.
func (c *Client) registerAsync(seq uint32, done func(pdu.PDU, error)) bool {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	// shut closes c.done before it takes the callbacks under pmu: a
	// callback recorded while c.done is open is among those it takes.
	select {
	case <-c.done:
		return false
	default:
	}
	c.async[seq] = done
	return true
}

// Submit sends submit_sm and returns the response's status and message_id.
func (c *Client) Submit(ctx context.Context, sm *pdu.SubmitSM) (status pdu.Status, messageID string, err error) {
	resp, err := c.Send(ctx, sm)
	if err != nil {
		return 0, "", err
	}
	if r, ok := resp.Body.(*pdu.SubmitSMResp); ok {
		messageID = r.MessageID
	}
	return resp.Status, messageID, nil
}

// EnquireLink checks the link.
func (c *Client) EnquireLink(ctx context.Context) error {
	resp, err := c.Send(ctx, &pdu.EnquireLink{})
	if err != nil {
		return err
	}
	if resp.Command != pdu.CmdEnquireLinkResp {
		return fmt.Errorf("esme: enquire_link answered with %s", resp.Command)
	}
	return nil
}

// Unbind unbinds and closes the connection.
func (c *Client) Unbind(ctx context.Context) error {
	_, err := c.Send(ctx, &pdu.Unbind{})
	_ = c.Close()
	return err
}

// Close closes the connection.
func (c *Client) Close() error {
	c.shut()
	return nil
}

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Unbound is closed when the server sent unbind.
func (c *Client) Unbound() <-chan struct{} { return c.unbound }

func (c *Client) shut() {
	c.once.Do(func() {
		close(c.done)
		_ = c.conn.Close()
		c.pmu.Lock()
		async := c.async
		c.async = map[uint32]func(pdu.PDU, error){}
		c.pmu.Unlock()
		for _, f := range async {
			f(pdu.PDU{}, ErrClosed)
		}
	})
}

func (c *Client) kickWriter() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *Client) write(frame []byte) {
	c.wmu.Lock()
	c.out = append(c.out, frame...)
	c.wmu.Unlock()
	c.kickWriter()
}

func (c *Client) writeLoop() {
	var spare []byte
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		c.wmu.Lock()
		batch := c.out
		c.out = spare[:0]
		c.wmu.Unlock()
		if len(batch) > 0 {
			if _, err := c.conn.Write(batch); err != nil {
				c.shut()
				return
			}
		}
		spare = batch
	}
}

func (c *Client) readLoop() {
	sc := bufio.NewScanner(c.conn)
	sc.Buffer(make([]byte, 0, 4096), int(c.cfg.MaxPDULength)+1)
	sc.Split(pdu.SplitFunc(c.cfg.MaxPDULength))
	for sc.Scan() {
		p, err := pdu.Decode(sc.Bytes())
		if p.Command.IsResponse() {
			c.complete(p, err)
			continue
		}
		c.serve(p, err)
	}
	c.shut()
}

func (c *Client) complete(p pdu.PDU, err error) {
	c.pmu.Lock()
	ch, ok := c.pending[p.Sequence]
	if ok {
		delete(c.pending, p.Sequence)
	}
	f, aok := c.async[p.Sequence]
	if aok {
		delete(c.async, p.Sequence)
	}
	c.pmu.Unlock()
	switch {
	case ok:
		ch <- result{p, err}
	case aok:
		f(p, err)
	}
}

// serve answers the server's requests.
func (c *Client) serve(p pdu.PDU, err error) {
	if err != nil {
		resp := p.Command.Response()
		status := pdu.StatusOf(err)
		if errors.Is(err, pdu.ErrUnknownCommand) {
			resp = pdu.CmdGenericNack
		}
		c.write(pdu.AppendHeader(nil, resp, status, p.Sequence))
		return
	}
	switch b := p.Body.(type) {
	case *pdu.DeliverSM:
		status := pdu.StatusOK
		if c.cfg.OnDeliver != nil {
			status = c.cfg.OnDeliver(b)
		}
		c.write(pdu.Append(nil, pdu.PDU{Header: pdu.Header{Command: pdu.CmdDeliverSMResp, Status: status, Sequence: p.Sequence}, Body: &pdu.DeliverSMResp{}}))
	case *pdu.EnquireLink:
		c.write(pdu.AppendHeader(nil, pdu.CmdEnquireLinkResp, pdu.StatusOK, p.Sequence))
	case *pdu.Unbind:
		c.write(pdu.AppendHeader(nil, pdu.CmdUnbindResp, pdu.StatusOK, p.Sequence))
		select {
		case <-c.unbound:
		default:
			close(c.unbound)
		}
	default:
		c.write(pdu.AppendHeader(nil, pdu.CmdGenericNack, pdu.StatusInvCmdID, p.Sequence))
	}
}
