package smpp

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestResponseMustAnswerTheRequest: an answer to the gateway's deliver_sm
// counts only when it is a deliver_sm_resp, or a generic_nack with an
// error status; another command's response with the same sequence number
// (or a generic_nack saying ESME_ROK) is ErrWrongResponse, so the receipt
// is retried rather than taken as delivered.
func TestResponseMustAnswerTheRequest(t *testing.T) {
	tests := []struct {
		name    string
		command pdu.CommandID
		status  pdu.Status
		wantErr error
	}{
		{"deliver_sm_resp", pdu.CmdDeliverSMResp, pdu.StatusOK, nil},
		{"deliver_sm_resp with an error", pdu.CmdDeliverSMResp, pdu.StatusXTAppn, nil},
		{"generic_nack with an error", pdu.CmdGenericNack, pdu.StatusInvCmdID, nil},
		{"generic_nack saying ESME_ROK", pdu.CmdGenericNack, pdu.StatusOK, ErrWrongResponse},
		{"enquire_link_resp", pdu.CmdEnquireLinkResp, pdu.StatusOK, ErrWrongResponse},
		{"submit_sm_resp", pdu.CmdSubmitSMResp, pdu.StatusOK, ErrWrongResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := pipeSession(t, Options{})
			var got []error
			s.pending[7] = outbound{deadline: time.Now().Add(time.Minute), cmd: pdu.CmdDeliverSM, receipt: true,
				done: func(_ pdu.PDU, err error) { got = append(got, err) }}
			s.handleResponse(pdu.PDU{Header: pdu.Header{Command: tt.command, Status: tt.status, Sequence: 7}}, nil)
			if len(got) != 1 || !errors.Is(got[0], tt.wantErr) {
				t.Fatalf("done called with %v, want once with %v", got, tt.wantErr)
			}
			if len(s.pending) != 0 {
				t.Fatalf("the request is still pending")
			}
		})
	}
}

// TestUnansweredNotJudgedWhileReadingPaused: while the reader waits for
// output room the client's answers may sit unread, so a request that
// times out then does not get the session unbound as answering nothing
// (TestUnansweredRequestsCloseSession covers a reader that is not paused).
func TestUnansweredNotJudgedWhileReadingPaused(t *testing.T) {
	s := pipeSession(t, Options{})
	s.state.Store(int32(StateBoundTRX))
	s.readPaused.Store(true)
	sent := time.Now().Add(-time.Minute)
	expired := make(chan error, 1)
	s.pending[7] = outbound{sent: sent, deadline: sent.Add(time.Second), cmd: pdu.CmdDeliverSM, receipt: true,
		done: func(_ pdu.PDU, err error) { expired <- err }}
	s.expirePending(time.Now())
	if err := <-expired; !errors.Is(err, ErrTimeout) {
		t.Fatalf("the request ended with %v, want ErrTimeout", err)
	}
	if s.selfUnbinding.Load() {
		t.Fatal("unbound for answering nothing while its reader was paused")
	}
}

// ErrWrongResponse says the client answered: the receipt dispatcher
// counts it among the refusals that pause an account's receipts, and a
// timeout not.
func TestWrongResponseIsAnAnswer(t *testing.T) {
	var a interface{ ReceiverAnswered() bool }
	if !errors.As(fmt.Errorf("deliver: %w", ErrWrongResponse), &a) || !a.ReceiverAnswered() {
		t.Error("ErrWrongResponse does not report ReceiverAnswered")
	}
	if errors.As(ErrTimeout, &a) {
		t.Error("ErrTimeout reports ReceiverAnswered")
	}
}
