package system

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// queryAnswer is a query_sm's answer: its status and, for ESME_ROK, the
// message's state and final date.
type queryAnswer struct {
	status    pdu.Status
	state     pdu.MessageState
	finalDate string
}

// querySM sends query_sm for id (source_addr NULL) and waits up to 10 s
// for the answer.
func querySM(t *testing.T, c *esme.Client, id string) queryAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := c.Send(ctx, &pdu.QuerySM{MessageID: id})
	if err != nil {
		t.Fatalf("query_sm %s: %v", id, err)
	}
	a := queryAnswer{status: p.Status}
	if b, ok := p.Body.(*pdu.QuerySMResp); ok {
		a.state, a.finalDate = b.MessageState, b.FinalDate
		if p.Status == pdu.StatusOK && b.MessageID != id {
			t.Fatalf("query_sm %s answered for message id %q", id, b.MessageID)
		}
	}
	return a
}

// cancelSM sends cancel_sm for id (addresses NULL) and returns its status.
func cancelSM(t *testing.T, c *esme.Client, id string) pdu.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := c.Send(ctx, &pdu.CancelSM{MessageID: id})
	if err != nil {
		t.Fatalf("cancel_sm %s: %v", id, err)
	}
	return p.Status
}

// submitOne submits one message to an invalid number (accepted by the
// simulator) with registered_delivery rd and returns its message id; it
// fails unless the answer is ESME_ROK with an id.
func submitOne(t *testing.T, c *esme.Client, dest string, rd uint8) string {
	t.Helper()
	m := submitSM(dest)
	m.RegisteredDelivery = rd
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, id, err := c.Submit(ctx, m)
	if err != nil || st != pdu.StatusOK || id == "" {
		t.Fatalf("submit_sm to %s: status %s, id %q, err %v; want ESME_ROK with an id", dest, st, id, err)
	}
	return id
}

var stateNames = map[pdu.MessageState]string{
	pdu.StateEnroute: "ENROUTE", pdu.StateDelivered: "DELIVERED", pdu.StateExpired: "EXPIRED",
	pdu.StateDeleted: "DELETED", pdu.StateUndeliverable: "UNDELIVERABLE", pdu.StateAccepted: "ACCEPTED",
	pdu.StateUnknown: "UNKNOWN", pdu.StateRejected: "REJECTED",
}

func (a queryAnswer) String() string {
	if a.status != pdu.StatusOK {
		return a.status.String()
	}
	name, ok := stateNames[a.state]
	if !ok {
		name = fmt.Sprintf("state %d", a.state)
	}
	return fmt.Sprintf("ESME_ROK %s final_date=%q", name, a.finalDate)
}

// wantState fails unless a is ESME_ROK with state (and a final date
// exactly when the state is final).
func wantState(t *testing.T, what string, a queryAnswer, state pdu.MessageState) {
	t.Helper()
	if a.status != pdu.StatusOK || a.state != state {
		t.Fatalf("%s: %v, want ESME_ROK %s", what, a, stateNames[state])
	}
	if final := state != pdu.StateEnroute; final != (a.finalDate != "") {
		t.Fatalf("%s: %v: a final date is given for a final state only", what, a)
	}
}

// TestCrossInstanceQueryAndCancel: two gateways on one Redis, with
// DLR_MODE=requested and receipts due 3 s after the submit. query_sm and
// cancel_sm sent to one instance act on a message accepted by the other:
//   - a pending receipt is ENROUTE on B, cancel_sm on B removes it
//     (ESME_ROK), both instances then answer DELETED, and its receipt never
//     comes while another message's, submitted beside it, does;
//   - a receipt whose deliver_sm is out (sent by A) and unanswered cannot
//     be cancelled on B (ESME_RCANCELFAIL), and ends DELIVERED once
//     answered;
//   - a message that asked for no receipt is found by a query_sm on B sent
//     right after A's submit_sm_resp (DELIVERED, not ESME_RQUERYFAIL), also
//     while Redis holds writes back for 300 ms (the answer waits for the
//     record's commit);
//   - another account's query_sm and cancel_sm are refused
//     (ESME_RQUERYFAIL, ESME_RCANCELFAIL) on both instances and change
//     nothing.
func TestCrossInstanceQueryAndCancel(t *testing.T) {
	const delay = 3 * time.Second // DLR_DELAY_SECONDS
	rs := startRedis(t)
	alice, bob, carol := account{"alice", "a"}, account{"bob", "b"}, account{"carol", "c"}
	env := map[string]string{
		"REDIS_URL": rs.URL(), "REDIS_KEY_PREFIX": uniquePrefix(),
		"SMPP_ACCOUNTS_FILE": writeAccounts(t, []account{alice, bob, carol}),
		"DLR_DELAY_SECONDS":  "3", "DLR_MODE": "requested",
		// A margin over the 300 ms write pause below (a commit that times
		// out leaves its records in A's outage buffer, which B cannot see
		// until they are written back: ESME_RQUERYFAIL on B meanwhile).
		"REDIS_TIMEOUT_SECONDS": "2",
	}
	a := startGW(t, "gw-a", env)
	b := startGW(t, "gw-b", env)

	t.Run("CancelPendingOnOtherInstance", func(t *testing.T) {
		// Transceivers of alice on both instances: they submit, query,
		// cancel, and receive every receipt alice gets.
		rc := newReceipts()
		onA := dialAs(t, a.smppAddr, alice, pdu.CmdBindTransceiver, rc)
		onB := dialAs(t, b.smppAddr, alice, pdu.CmdBindTransceiver, rc)

		submitted := time.Now()
		cancelled := submitOne(t, onA, "409900000001", 1)
		kept := submitOne(t, onA, "409900000002", 1)

		wantState(t, "query_sm on B for A's pending message", querySM(t, onB, cancelled), pdu.StateEnroute)
		// ESME_ROK also proves the receipt was still pending and not
		// being sent: a cancel comes too late otherwise.
		if st := cancelSM(t, onB, cancelled); st != pdu.StatusOK {
			t.Fatalf("cancel_sm on B for A's pending message: %s, want ESME_ROK", st)
		}
		wantState(t, "query_sm on A after the cancel on B", querySM(t, onA, cancelled), pdu.StateDeleted)
		wantState(t, "query_sm on B after the cancel on B", querySM(t, onB, cancelled), pdu.StateDeleted)
		if st := cancelSM(t, onA, cancelled); st != pdu.StatusCancelFail {
			t.Errorf("a second cancel_sm, on A, of the cancelled message: %s, want ESME_RCANCELFAIL (nothing pending)", st)
		}
		wantState(t, "query_sm on B for the message not cancelled", querySM(t, onB, kept), pdu.StateEnroute)

		// The message submitted beside it gets its receipt, so the
		// dispatchers ran; the cancelled one's must not come until 5 s
		// after it was due.
		if missing := rc.waitAll(map[string]bool{kept: true}, 10*time.Second); missing > 0 {
			t.Fatalf("no receipt for the message not cancelled within %v of its submit (DLR_DELAY_SECONDS=3)", time.Since(submitted).Round(time.Millisecond))
		}
		deadline := submitted.Add(delay + 5*time.Second)
		if waitFor(time.Until(deadline), func() bool { return rc.missing(map[string]bool{cancelled: true}) == 0 }) {
			t.Fatalf("the message cancelled on B got its receipt %v after its submit", rc.lastFirst(map[string]bool{cancelled: true}).Sub(submitted).Round(time.Millisecond))
		}
		_, total, dups := rc.counts()
		if u := rc.unexpected(map[string]bool{kept: true}); len(u) > 0 || total != 1 || dups != 0 {
			t.Fatalf("alice's receivers got %d receipts (%d duplicates, unexpected ids %v), want exactly one, for %s", total, dups, u, kept)
		}
		wantState(t, "query_sm on B for the message not cancelled, after its receipt", querySM(t, onB, kept), pdu.StateDelivered)
		wantState(t, "query_sm on A for the cancelled message, after the wait", querySM(t, onA, cancelled), pdu.StateDeleted)
	})

	t.Run("CannotCancelReceiptOutOnOtherInstance", func(t *testing.T) {
		// carol's only receiver is on A and holds the deliver_sm unanswered
		// until released; carol submits on B.
		var delivered atomic.Int64
		out := make(chan string, 16)
		release := make(chan struct{})
		var once sync.Once
		dialWith(t, a.smppAddr, carol, pdu.CmdBindReceiver, func(d *pdu.DeliverSM) pdu.Status {
			id, _ := d.TLVs.CString(pdu.TagReceiptedMessageID)
			delivered.Add(1)
			select {
			case out <- id:
			default:
			}
			<-release
			return pdu.StatusOK
		})
		// Registered after the receiver's Close, so it runs first.
		t.Cleanup(func() { once.Do(func() { close(release) }) })
		onB := dialAs(t, b.smppAddr, carol, pdu.CmdBindTransmitter, nil)

		id := submitOne(t, onB, "409900000003", 1)
		select {
		case got := <-out:
			if got != id {
				t.Fatalf("carol's receiver got a receipt for %q, want %q", got, id)
			}
		case <-time.After(delay + 10*time.Second):
			t.Fatalf("carol's receiver on A got no deliver_sm within %v of the submit", delay+10*time.Second)
		}
		// The deliver_sm is out and unanswered (the handler holds it).
		if st := cancelSM(t, onB, id); st != pdu.StatusCancelFail {
			t.Fatalf("cancel_sm on B of a receipt whose deliver_sm A sent and is unanswered: %s, want ESME_RCANCELFAIL", st)
		}
		wantState(t, "query_sm on B while A's deliver_sm is unanswered", querySM(t, onB, id), pdu.StateEnroute)

		once.Do(func() { close(release) })
		var last queryAnswer
		if !waitFor(10*time.Second, func() bool {
			last = querySM(t, onB, id)
			return last.status == pdu.StatusOK && last.state == pdu.StateDelivered
		}) {
			t.Fatalf("query_sm on B after the deliver_sm was answered ESME_ROK: %v, want DELIVERED", last)
		}
		wantState(t, "query_sm on B after the deliver_sm was answered", last, pdu.StateDelivered)
		if n := delivered.Load(); n != 1 {
			t.Fatalf("carol's receiver got %d deliver_sm, want 1", n)
		}
	})

	t.Run("QueryWithoutReceiptRightAfterSubmit", func(t *testing.T) {
		onA := dialAs(t, a.smppAddr, alice, pdu.CmdBindTransmitter, nil)
		onB := dialAs(t, b.smppAddr, alice, pdu.CmdBindTransmitter, nil)
		for i := range 20 {
			id := submitOne(t, onA, invalidNumbers(500+i, 1)[0], 0)
			// Sent as soon as A's submit_sm_resp arrived.
			wantState(t, "query_sm on B right after A accepted a message with registered_delivery 0", querySM(t, onB, id), pdu.StateDelivered)
		}

		// The same with Redis taking no writes for 300 ms (CLIENT PAUSE
		// WRITE; reads go on), well within REDIS_TIMEOUT_SECONDS: A's
		// records wait for their commit, and a submit_sm_resp that did not
		// wait for it would send B's query_sm looking before the record is
		// there. Up to 64 submits in flight to the numbers above (their HLR
		// answers are cached: no cache write), each query_sm on B sent from
		// the submit_sm_resp's callback.
		const burst, window = 400, 64
		warm := invalidNumbers(500, 20)
		type answer struct {
			id  string
			q   queryAnswer
			err error
		}
		answers := make(chan answer, burst) // buffered: a callback never blocks
		sem := make(chan struct{}, window)
		rdb := redis.NewClient(&redis.Options{Addr: rs.addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := rdb.Do(ctx, "CLIENT", "PAUSE", "300", "WRITE").Err()
		cancel()
		if err != nil {
			t.Fatalf("CLIENT PAUSE 300 WRITE: %v", err)
		}
		paused := time.Now()
		var firstResp atomic.Int64 // ns after the pause
		for i := range burst {
			dest := warm[i%len(warm)]
			select {
			case sem <- struct{}{}:
			case <-time.After(30 * time.Second):
				t.Fatalf("window stuck after %d of %d submits", i, burst)
			}
			m := submitSM(dest)
			m.RegisteredDelivery = 0
			onA.SendAsync(m, func(p pdu.PDU, err error) {
				firstResp.CompareAndSwap(0, int64(time.Since(paused)))
				resp, ok := p.Body.(*pdu.SubmitSMResp)
				if err != nil || p.Status != pdu.StatusOK || !ok || resp.MessageID == "" {
					answers <- answer{err: fmt.Errorf("submit_sm to %s: %s (%v)", dest, p.Status, err)}
					<-sem
					return
				}
				id := resp.MessageID
				onB.SendAsync(&pdu.QuerySM{MessageID: id}, func(q pdu.PDU, err error) {
					ans := answer{id: id, err: err, q: queryAnswer{status: q.Status}}
					if body, ok := q.Body.(*pdu.QuerySMResp); ok {
						ans.q.state, ans.q.finalDate = body.MessageState, body.FinalDate
					}
					answers <- ans
					<-sem
				})
			})
		}
		got := map[string]int{}
		var bad []string
		deadline := time.After(30 * time.Second)
		for range burst {
			var ans answer
			select {
			case ans = <-answers:
			case <-deadline:
				t.Fatalf("not every submit_sm and query_sm was answered within 30 s (%v so far)", got)
			}
			switch {
			case ans.err != nil:
				got["error"]++
				bad = append(bad, ans.err.Error())
			case ans.q.status != pdu.StatusOK || ans.q.state != pdu.StateDelivered || ans.q.finalDate == "":
				got[ans.q.String()]++
				bad = append(bad, ans.id+": "+ans.q.String())
			default:
				got["ESME_ROK DELIVERED"]++
			}
		}
		t.Logf("with Redis writes paused for 300 ms: the first submit_sm_resp came %v after the pause, the last query_sm answer %v after", time.Duration(firstResp.Load()).Round(time.Millisecond), time.Since(paused).Round(time.Millisecond))
		if len(bad) > 0 {
			t.Fatalf("%d of %d query_sm on B sent as soon as A accepted a message with registered_delivery 0 were not ESME_ROK DELIVERED: %v; e.g. %v",
				len(bad), burst, got, bad[:min(len(bad), 5)])
		}
	})

	t.Run("OtherAccountRefused", func(t *testing.T) {
		aliceA := dialAs(t, a.smppAddr, alice, pdu.CmdBindTransmitter, nil)
		aliceB := dialAs(t, b.smppAddr, alice, pdu.CmdBindTransmitter, nil)
		bobA := dialAs(t, a.smppAddr, bob, pdu.CmdBindTransmitter, nil)
		bobB := dialAs(t, b.smppAddr, bob, pdu.CmdBindTransmitter, nil)

		pending := submitOne(t, aliceA, "409900000004", 1)  // receipt pending (no receiver of alice)
		finished := submitOne(t, aliceA, "409900000005", 0) // no receipt: DELIVERED at once
		for _, c := range []struct {
			name string
			bob  *esme.Client
		}{{"B", bobB}, {"A", bobA}} {
			for _, id := range []string{pending, finished} {
				if q := querySM(t, c.bob, id); q.status != pdu.StatusQueryFail {
					t.Errorf("bob's query_sm on %s for alice's message %s: %v, want ESME_RQUERYFAIL", c.name, id, q)
				}
				if st := cancelSM(t, c.bob, id); st != pdu.StatusCancelFail {
					t.Errorf("bob's cancel_sm on %s for alice's message %s: %s, want ESME_RCANCELFAIL", c.name, id, st)
				}
			}
		}
		// bob's cancel changed nothing: alice's message is still pending
		// (so it was while bob asked), and alice can still cancel it.
		wantState(t, "alice's query_sm on B after bob's cancel_sm", querySM(t, aliceB, pending), pdu.StateEnroute)
		wantState(t, "alice's query_sm on B for the message without receipt", querySM(t, aliceB, finished), pdu.StateDelivered)
		if st := cancelSM(t, aliceB, pending); st != pdu.StatusOK {
			t.Fatalf("alice's cancel_sm on B after bob's: %s, want ESME_ROK", st)
		}
	})
}
