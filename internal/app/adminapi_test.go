package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

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

// TestOperatorUnbindAccountWaitsForSessionsBeingUnbound: DELETE
// /api/v1/accounts/{id}/sessions while a session of the account is being
// unbound already (by a DELETE of the session, or by a reload that removed
// the account) answers once that session has closed, counting it; the
// account is known while it has sessions listed. It used to answer at
// once: 200 with 0, or 404 for the removed account.
func TestOperatorUnbindAccountWaitsForSessionsBeingUnbound(t *testing.T) {
	tests := []struct {
		name  string
		first func(t *testing.T, adminAddr, file, sessionID string)
	}{
		{"session being unbound by an admin request", func(t *testing.T, adminAddr, _, id string) {
			apiLater(adminAddr, "DELETE", "/api/v1/sessions/"+id)
		}},
		{"account removed by a reload", func(t *testing.T, adminAddr, file, _ string) {
			writeAccounts(t, file, "accounts:\n  - {system_id: bob, password: b}\n")
			if code := api(t, adminAddr, "POST", "/api/v1/reload", nil); code != 200 {
				t.Errorf("reload: %d", code)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw, adminAddr, file := startOperatorGateway(t,
				"accounts:\n  - {system_id: alice, password: a}\n  - {system_id: bob, password: b}\n")
			alice := bindSilently(t, gw.addr, "alice", "a")
			var sessions sessionsAnswer
			if code := api(t, adminAddr, "GET", "/api/v1/sessions", &sessions); code != 200 || len(sessions.Sessions) != 1 {
				t.Fatalf("GET sessions: %d %+v, want alice's session", code, sessions)
			}
			tt.first(t, adminAddr, file, sessions.Sessions[0].ID)
			unbind := alice.next(t, pdu.CmdUnbind)
			answered := apiLater(adminAddr, "DELETE", "/api/v1/accounts/alice/sessions")
			select {
			case a := <-answered:
				t.Fatalf("DELETE alice's sessions answered %d %s while her session was open", a.code, a.body)
			case <-time.After(200 * time.Millisecond):
			}
			alice.write(t, pdu.AppendHeader(nil, pdu.CmdUnbindResp, pdu.StatusOK, unbind.Sequence))
			var res struct{ Unbound int }
			if a := <-answered; a.code != 200 || json.Unmarshal(a.body, &res) != nil || res.Unbound != 1 {
				t.Fatalf("DELETE alice's sessions: %d %s (%v), want 200 with 1", a.code, a.body, a.err)
			}
			var after sessionsAnswer
			if code := api(t, adminAddr, "GET", "/api/v1/sessions", &after); code != 200 || len(after.Sessions) != 0 {
				t.Fatalf("GET sessions after the answer: %d %+v, want none", code, after)
			}
		})
	}
}

// apiAnswer is an answer of the admin API: its status and body, or the
// error of the request.
type apiAnswer struct {
	code int
	body []byte
	err  error
}

// apiLater calls the admin API in the background and sends its answer on
// the channel returned.
func apiLater(addr, method, path string) <-chan apiAnswer {
	answered := make(chan apiAnswer, 1)
	go func() {
		var a apiAnswer
		defer func() { answered <- a }()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, nil)
		if err != nil {
			a.err = err
			return
		}
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			a.err = err
			return
		}
		defer resp.Body.Close()
		a.code = resp.StatusCode
		a.body, a.err = io.ReadAll(resp.Body)
	}()
	return answered
}

// silentClient is a bound SMPP connection that answers nothing by itself.
type silentClient struct {
	conn net.Conn
	sc   *bufio.Scanner
}

func bindSilently(t *testing.T, addr, systemID, password string) *silentClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c := &silentClient{conn: conn, sc: bufio.NewScanner(conn)}
	c.sc.Split(pdu.SplitFunc(pdu.DefaultMaxLength))
	c.write(t, pdu.Append(nil, pdu.PDU{Header: pdu.Header{Command: pdu.CmdBindTransmitter, Sequence: 1},
		Body: &pdu.Bind{Command: pdu.CmdBindTransmitter, SystemID: systemID, Password: password, InterfaceVersion: 0x34}}))
	if p := c.next(t, pdu.CmdBindTransmitterResp); p.Status != pdu.StatusOK {
		t.Fatalf("bind %s: %v", systemID, p.Status)
	}
	return c
}

func (c *silentClient) write(t *testing.T, frame []byte) {
	t.Helper()
	if _, err := c.conn.Write(frame); err != nil {
		t.Fatal(err)
	}
}

// next reads PDUs until one with command cmd.
func (c *silentClient) next(t *testing.T, cmd pdu.CommandID) pdu.PDU {
	t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for c.sc.Scan() {
		if p, err := pdu.Decode(c.sc.Bytes()); err == nil && p.Command == cmd {
			return p
		}
	}
	t.Fatalf("no %v from the gateway: %v", cmd, c.sc.Err())
	return pdu.PDU{}
}
