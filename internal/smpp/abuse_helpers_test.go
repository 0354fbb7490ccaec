package smpp_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// Loopback addresses: the attacker connects from one, the well-behaved
// clients from others (Linux routes all of 127.0.0.0/8 to lo).
const (
	attackerIP = "127.0.0.1"
	goodIP     = "127.0.0.2"
	keeperIP   = "127.0.0.3"
	// attackerIP2 is a second attacking address.
	attackerIP2 = "127.0.0.4"
)

var t0 = time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)

// smallBuffers wraps a listener so accepted connections have small kernel
// send buffers: a client that does not read fills them after a few
// kilobytes instead of megabytes, and the server's own bound is reached
// quickly.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// startServerOn serves opts on a loopback port until the test ends, its
// listener wrapped by wrap (nil: none). Without opts.Registerer the server
// gets a registry of its own, returned for reading metrics.
func startServerOn(t *testing.T, opts smpp.Options, wrap func(net.Listener) net.Listener) (*testServer, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	if opts.Registerer == nil {
		opts.Registerer = reg
	}
	if opts.Handler == nil {
		opts.Handler = smpp.HandlerFunc(okHandler)
	}
	if opts.Auth == nil {
		opts.Auth = smpp.NewAccounts(defaultAccounts())
	}
	srv, err := smpp.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	var l net.Listener = ln
	if wrap != nil {
		l = wrap(ln)
	}
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-served; !errors.Is(err, smpp.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return &testServer{srv: srv, addr: ln.Addr().String()}, reg
}

func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if label == "" || (lp.GetName() == label && lp.GetValue() == value) {
					return m.GetCounter().GetValue()
				}
			}
			if label == "" {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// dialFrom opens a raw connection from a local address.
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func bindFrame(seq uint32, systemID, password string, version uint8) []byte {
	return pdu.Append(nil, pdu.PDU{Header: pdu.Header{Command: pdu.CmdBindTransceiver, Sequence: seq},
		Body: &pdu.Bind{Command: pdu.CmdBindTransceiver, SystemID: systemID, Password: password, InterfaceVersion: version}})
}

// rawBoundFrom binds a raw transceiver from a local address.
func rawBoundFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	conn := dialFrom(t, local, addr)
	if _, err := conn.Write(bindFrame(1, "testuser", "testpass", 0x34)); err != nil {
		t.Fatal(err)
	}
	if p, ok := readPDU(t, conn); !ok || p.Status != pdu.StatusOK {
		t.Fatalf("bind: %+v", p.Header)
	}
	return conn
}

// keeper is a well-behaved session that submits one message after another
// while an attack runs; every submit must be answered ESME_ROK.
type keeper struct {
	progress chan struct{} // a token per answered submit (dropped when full)
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	err      error
	count    int
}

func startKeeper(t *testing.T, addr string) *keeper {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := esme.Dial(ctx, esme.Config{Addr: addr, SystemID: "testuser", Password: "testpass", LocalAddr: keeperIP,
		Bind: pdu.CmdBindTransceiver, ResponseTimeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("keeper bind: %v", err)
	}
	k := &keeper{progress: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(k.done)
		defer c.Close()
		for {
			select {
			case <-k.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			st, _, err := c.Submit(ctx, submit("4915123456789"))
			cancel()
			if err == nil && st != pdu.StatusOK {
				err = errors.New("submit answered " + st.String())
			}
			k.mu.Lock()
			if err != nil && k.err == nil {
				k.err = err
			}
			k.count++
			k.mu.Unlock()
			if err != nil {
				return
			}
			select {
			case k.progress <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(k.finish)
	return k
}

// waitProgress waits until the keeper gets one more submit answered.
func (k *keeper) waitProgress(t *testing.T) {
	t.Helper()
	select {
	case <-k.progress:
	case <-k.done:
	}
	select {
	case <-k.progress:
	case <-k.done:
		t.Fatalf("the other session stopped: %v", k.errOrNil())
	case <-time.After(20 * time.Second):
		t.Fatal("the other session stalled")
	}
}

func (k *keeper) errOrNil() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

func (k *keeper) finish() {
	select {
	case <-k.stop:
	default:
		close(k.stop)
	}
	<-k.done
}

// check stops the keeper and fails the test on any error it saw.
func (k *keeper) check(t *testing.T) {
	t.Helper()
	k.finish()
	if err := k.errOrNil(); err != nil {
		t.Fatalf("the other session saw an error after %d submits: %v", k.count, err)
	}
}

// sessionFrom finds the open session from a local address, or nil.
func sessionFrom(srv *smpp.Server, ip string) *smpp.Session {
	for _, s := range srv.OpenSessionsForTest() {
		if s.RemoteAddr().String() == ip {
			return s
		}
	}
	return nil
}

// drain empties a signal channel.
func drain(c <-chan struct{}) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}
