package app_test

import (
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestOperatorUnbindNeedsTheListedID: DELETE /api/v1/sessions/{id} finds
// a session by the id GET /api/v1/sessions lists only; another spelling of
// the same number (leading zeros, a sign) is 404 and the session stays.
func TestOperatorUnbindNeedsTheListedID(t *testing.T) {
	gw, adminAddr, _ := startOperatorGateway(t, "accounts:\n  - {system_id: alice, password: a}\n")
	alice := mustDialAs(t, gw.addr, "alice", "a", pdu.CmdBindTransmitter)
	var sessions sessionsAnswer
	if code := api(t, adminAddr, "GET", "/api/v1/sessions", &sessions); code != 200 || len(sessions.Sessions) != 1 {
		t.Fatalf("GET sessions: %d %+v, want alice's session", code, sessions)
	}
	id := sessions.Sessions[0].ID
	for _, spelling := range []string{"0" + id, "00" + id, "+" + id, "0x" + id} {
		t.Run(spelling, func(t *testing.T) {
			if code := api(t, adminAddr, "DELETE", "/api/v1/sessions/"+spelling, nil); code != 404 {
				t.Fatalf("DELETE /api/v1/sessions/%s (the session is %s): %d, want 404", spelling, id, code)
			}
		})
	}
	if st, _, err := alice.Submit(ctxT(t), sm("40722570240999", 1)); err != nil || st != pdu.StatusOK {
		t.Fatalf("alice after the refused unbinds: %v %v, want her session bound", st, err)
	}
	if code := api(t, adminAddr, "DELETE", "/api/v1/sessions/"+id, nil); code != 204 {
		t.Fatalf("DELETE /api/v1/sessions/%s: %d, want 204", id, code)
	}
	waitClosed(t, alice, "alice")
}
