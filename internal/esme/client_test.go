package esme_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// silentServer accepts connections and reads them without answering;
// each accepted connection is sent on the channel returned.
func silentServer(t *testing.T) (addr string, accepted <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	conns := make(chan net.Conn, 16)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = conn.Close() })
			conns <- conn
			go func() { _, _ = io.Copy(io.Discard, conn) }()
		}
	}()
	return ln.Addr().String(), conns
}

func connect(t *testing.T, addr string) *esme.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := esme.Connect(ctx, esme.Config{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestSendAsyncAfterTheConnectionEnded: a SendAsync once the connection
// has ended (closed by the client or by the server) calls its callback
// with ErrClosed, once. Its callback used to be recorded after the close
// had called the others, and never called.
func TestSendAsyncAfterTheConnectionEnded(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, c *esme.Client, server net.Conn)
	}{
		{"closed by the client", func(t *testing.T, c *esme.Client, _ net.Conn) { _ = c.Close() }},
		{"closed by the server", func(t *testing.T, c *esme.Client, server net.Conn) {
			_ = server.Close()
			select {
			case <-c.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("the client did not see the server close")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, accepted := silentServer(t)
			c := connect(t, addr)
			tt.end(t, c, <-accepted)
			var calls atomic.Int32
			errs := make(chan error, 2)
			c.SendAsync(&pdu.EnquireLink{}, func(_ pdu.PDU, err error) {
				calls.Add(1)
				errs <- err
			})
			select {
			case err := <-errs:
				if !errors.Is(err, esme.ErrClosed) {
					t.Fatalf("callback error %v, want %v", err, esme.ErrClosed)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the callback of a send after the close was never called")
			}
			_ = c.Close() // a second close calls nothing again
			if n := calls.Load(); n != 1 {
				t.Fatalf("callback called %d times, want once", n)
			}
		})
	}
}

// TestSendAsyncRacingClose: sends racing the close each get their
// callback exactly once, whichever side of the close they fall on (the
// server answers none of them). Run with -race.
func TestSendAsyncRacingClose(t *testing.T) {
	const senders, sends = 4, 200
	addr, _ := silentServer(t)
	c := connect(t, addr)
	var calls [senders * sends]atomic.Int32
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range sends {
				k := g*sends + i
				c.SendAsync(&pdu.EnquireLink{}, func(_ pdu.PDU, err error) {
					if !errors.Is(err, esme.ErrClosed) {
						t.Errorf("send %d: %v, want %v", k, err, esme.ErrClosed)
					}
					calls[k].Add(1)
				})
			}
		})
	}
	time.Sleep(time.Millisecond)
	_ = c.Close()
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for k := range calls {
		for calls[k].Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n := calls[k].Load(); n != 1 {
			t.Fatalf("send %d: callback called %d times, want once", k, n)
		}
	}
}
