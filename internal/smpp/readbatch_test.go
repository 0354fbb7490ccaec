package smpp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// batchRecorder is a ReadBatcher that records, in order, the requests it
// serves ("serve N", N the sequence number) and the ends of its reads
// ("end").
type batchRecorder struct {
	mu      sync.Mutex
	events  []string
	batches map[*smpp.Session]*recordedBatch
	wrong   []string      // what a request found wrong with its session's batch
	ended   chan struct{} // a send per EndRead, when there is room
}

type recordedBatch struct {
	rec *batchRecorder
	s   *smpp.Session
}

func newBatchRecorder() *batchRecorder {
	return &batchRecorder{batches: make(map[*smpp.Session]*recordedBatch), ended: make(chan struct{}, 16)}
}

func (b *batchRecorder) add(e string) {
	b.mu.Lock()
	b.events = append(b.events, e)
	b.mu.Unlock()
}

func (b *batchRecorder) NewReadBatch(s *smpp.Session) smpp.ReadBatch {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.batches[s] != nil {
		b.wrong = append(b.wrong, "NewReadBatch called twice")
	}
	rb := &recordedBatch{rec: b, s: s}
	b.batches[s] = rb
	return rb
}

func (b *batchRecorder) ServeSMPP(r *smpp.Request) {
	if rb, ok := r.Session.ReadBatch().(*recordedBatch); !ok || rb.s != r.Session {
		b.mu.Lock()
		b.wrong = append(b.wrong, fmt.Sprintf("submit %d: ReadBatch %v", r.PDU.Sequence, r.Session.ReadBatch()))
		b.mu.Unlock()
	}
	b.add(fmt.Sprintf("serve %d", r.PDU.Sequence))
	okHandler(r)
}

func (rb *recordedBatch) EndRead() {
	rb.rec.add("end")
	select {
	case rb.rec.ended <- struct{}{}:
	default:
	}
}

func (b *batchRecorder) result() ([]string, []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.events), slices.Clone(b.wrong)
}

// scriptConn is a client connection whose reads are scripted: each Read
// returns (up to the reader's buffer of) the next entry's bytes, with
// io.EOF when the entry says so. Past the script Read closes idle and waits
// for Close, as an idle client.
type scriptConn struct {
	*memConn
	reads    []scriptedRead
	idle     chan struct{}
	idleOnce sync.Once
}

type scriptedRead struct {
	data []byte
	eof  bool // the read returns io.EOF with its data: the peer closed after it
}

func newScriptConn(reads []scriptedRead) *scriptConn {
	return &scriptConn{memConn: newMemConn(nil, func([]byte) {}), reads: reads, idle: make(chan struct{})}
}

func (c *scriptConn) Read(p []byte) (int, error) {
	if len(c.reads) == 0 {
		c.idleOnce.Do(func() { close(c.idle) })
		<-c.closed
		return 0, net.ErrClosed
	}
	r := &c.reads[0]
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) > 0 {
		return n, nil
	}
	eof := r.eof
	c.reads = c.reads[1:]
	if eof {
		return n, io.EOF
	}
	return n, nil
}

func submitFrame(seq uint32) []byte {
	return pdu.Append(nil, pdu.PDU{Header: pdu.Header{Command: pdu.CmdSubmitSM, Sequence: seq}, Body: submit("4915123456780")})
}

func enquireLinkFrame(seq uint32) []byte {
	return pdu.Append(nil, pdu.PDU{Header: pdu.Header{Command: pdu.CmdEnquireLink, Sequence: seq}})
}

func cat(frames ...[]byte) []byte { return slices.Concat(frames...) }

// serveScript serves one scripted connection to h until the script is
// read (or the reader stopped on its own), then hangs up and waits for the
// server to end: every call of the reader is over when it returns.
func serveScript(t *testing.T, h smpp.Handler, opts smpp.Options, conn net.Conn, idle <-chan struct{}, closed <-chan struct{}) {
	t.Helper()
	opts.Handler, opts.Auth, opts.Registerer = h, smpp.NewAccounts(defaultAccounts()), prometheus.NewRegistry()
	opts.EnquireLinkInterval, opts.InactivityTimeout, opts.BindTimeout = -1, -1, time.Hour
	srv, err := smpp.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(newOneConnListener(conn)) }()
	select {
	case <-idle:
	case <-closed: // the session ended by itself
	case <-time.After(10 * time.Second):
		t.Fatal("the reader neither went idle nor stopped")
	}
	_ = conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, smpp.ErrServerClosed) {
		t.Fatalf("Serve returned %v, want ErrServerClosed", err)
	}
}

func TestReadBatchEndsWhereTheReadsFramesEnd(t *testing.T) {
	s4 := submitFrame(4)
	for _, tc := range []struct {
		name  string
		reads []scriptedRead
		want  []string
	}{{
		name:  "frames of one read are one batch",
		reads: []scriptedRead{{data: bindFrame(1, "testuser", "testpass", 0x34)}, {data: cat(submitFrame(2), submitFrame(3))}},
		want:  []string{"serve 2", "serve 3", "end"},
	}, {
		name: "a read per batch, a frame completed by a later read in that read's batch",
		reads: []scriptedRead{{data: bindFrame(1, "testuser", "testpass", 0x34)}, {data: cat(submitFrame(2), submitFrame(3), s4[:10])},
			{data: s4[10:]}, {data: submitFrame(5)}},
		want: []string{"serve 2", "serve 3", "end", "serve 4", "end", "serve 5", "end"},
	}, {
		name:  "a read that completes no frame ends no batch",
		reads: []scriptedRead{{data: bindFrame(1, "testuser", "testpass", 0x34)}, {data: s4[:10]}, {data: s4[10:20]}, {data: s4[20:]}},
		want:  []string{"serve 4", "end"},
	}, {
		name:  "requests the session answers itself are no batch",
		reads: []scriptedRead{{data: bindFrame(1, "testuser", "testpass", 0x34)}, {data: enquireLinkFrame(2)}, {data: cat(enquireLinkFrame(3), submitFrame(4))}},
		want:  []string{"serve 4", "end"},
	}, {
		name:  "the last batch ends when the peer closes after it",
		reads: []scriptedRead{{data: bindFrame(1, "testuser", "testpass", 0x34)}, {data: submitFrame(2)}, {data: cat(submitFrame(3), submitFrame(4)), eof: true}},
		want:  []string{"serve 2", "end", "serve 3", "serve 4", "end"},
	}, {
		name:  "the last batch ends when a bad frame stops the reader",
		reads: []scriptedRead{{data: bindFrame(1, "testuser", "testpass", 0x34)}, {data: cat(submitFrame(2), []byte{0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 9})}},
		want:  []string{"serve 2", "end"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newBatchRecorder()
			conn := newScriptConn(tc.reads)
			serveScript(t, rec, smpp.Options{}, conn, conn.idle, conn.closed)
			got, wrong := rec.result()
			if len(wrong) > 0 {
				t.Errorf("%q", wrong)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("events %q, want %q", got, tc.want)
			}
		})
	}
}

// A handler that is not a ReadBatcher is served as before, and its
// sessions have no batch.
func TestReadBatchIsNilForAPlainHandler(t *testing.T) {
	got := make(chan smpp.ReadBatch, 1)
	h := smpp.HandlerFunc(func(r *smpp.Request) {
		got <- r.Session.ReadBatch()
		okHandler(r)
	})
	conn := newScriptConn([]scriptedRead{{data: bindFrame(1, "testuser", "testpass", 0x34)}, {data: submitFrame(2)}})
	serveScript(t, h, smpp.Options{}, conn, conn.idle, conn.closed)
	if b := <-got; b != nil {
		t.Fatalf("ReadBatch %v, want nil", b)
	}
}

// When the output buffer is full the reader waits for the writer; the
// batch ends before that wait, not at the next read.
func TestReadBatchEndsBeforeTheReaderWaitsForOutputRoom(t *testing.T) {
	rec := newBatchRecorder()
	release := make(chan struct{})
	conn := newScriptConn([]scriptedRead{{data: bindFrame(1, "testuser", "testpass", 0x34)}, {data: cat(submitFrame(2), submitFrame(3))}})
	writes := 0
	conn.written = func([]byte) { // on the session's writer goroutine
		writes++
		if writes > 1 {
			<-release // the client reads bind_resp, then nothing until released
		}
	}
	go func() {
		// Submit 2's answer is being written and fills the output: the
		// reader waits for room, and must have ended its batch first.
		select {
		case <-rec.ended:
		case <-conn.closed:
		}
		close(release)
	}()
	serveScript(t, rec, smpp.Options{MaxOutputBytes: 1, SlowConsumerTimeout: time.Hour}, conn, conn.idle, conn.closed)
	got, wrong := rec.result()
	if len(wrong) > 0 {
		t.Errorf("%q", wrong)
	}
	// Submit 3's batch ends before the wait for room or before the next
	// read, whichever comes: the same events.
	if want := []string{"serve 2", "end", "serve 3", "end"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}
