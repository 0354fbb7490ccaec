package gateway

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/logging"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestSubmitLineFields: the per-message line carries the seed's fields
// always, and command, status, receipt_err, reason and detail only when
// they say something the event does not; the console format carries the
// same fields as the JSON one.
func TestSubmitLineFields(t *testing.T) {
	cases := []struct {
		name  string
		event string
		cmd   pdu.CommandID
		d     decision
		id    string
		want  map[string]any // the fields beyond base
	}{
		{"rejected", "submit.rejected", pdu.CmdSubmitSM,
			decision{status: pdu.StatusInvDstAdr, detail: "valid"}, "",
			map[string]any{"detail": "valid"}},
		{"rejected, no detail", "submit.rejected", pdu.CmdSubmitSM,
			decision{status: pdu.StatusInvDstAdr}, "", map[string]any{}},
		{"accepted", "submit.accepted", pdu.CmdSubmitSM,
			decision{err: "003", reason: "invalid_number", detail: "not a phone number"}, "0A1B2C3D4E5F6071",
			map[string]any{"receipt_err": "003", "reason": "invalid_number", "detail": "not a phone number"}},
		{"accepted, detail the reason again", "submit.accepted", pdu.CmdSubmitSM,
			decision{err: "003", reason: "invalid_number", detail: "invalid_number"}, "0A1B2C3D4E5F6073",
			map[string]any{"receipt_err": "003", "reason": "invalid_number"}},
		{"accepted by submit_multi", "submit.accepted", pdu.CmdSubmitMulti,
			decision{err: "000", reason: "rule"}, "0A1B2C3D4E5F6072",
			map[string]any{"command": "submit_multi", "receipt_err": "000", "reason": "rule"}},
		{"rejected data_sm", "submit.rejected", pdu.CmdDataSM,
			decision{status: pdu.StatusInvDstAdr}, "", map[string]any{"command": "data_sm"}},
		{"failed", "submit.failed", pdu.CmdSubmitSM,
			decision{status: pdu.StatusSysErr, reason: "hlr_timeout", detail: "hlr: timeout"}, "",
			map[string]any{"status": "ESME_RSYSERR", "reason": "hlr_timeout", "detail": "hlr: timeout"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := map[string]any{"message_id": c.id, "system_id": "alice", "source": "SENDER",
				"destination": "40722570240999", "message_length": float64(11)}
			maps.Copy(want, c.want)

			var jb bytes.Buffer
			jl, _ := logging.New(&jb, "DEBUG", "json")
			writeSubmitLine(logging.Begin(jl, slog.LevelInfo, c.event), "alice", c.cmd, c.d, c.id, "SENDER", "40722570240999", 11)
			var got map[string]any
			if err := json.Unmarshal(jb.Bytes(), &got); err != nil {
				t.Fatalf("%v: %s", err, jb.String())
			}
			if got["event"] != c.event {
				t.Errorf("event %v, want %s", got["event"], c.event)
			}
			for _, k := range []string{"timestamp", "level", "event"} {
				delete(got, k)
			}
			if !maps.Equal(got, want) {
				t.Errorf("json fields\n got %v\nwant %v", got, want)
			}

			var cb bytes.Buffer
			cl, _ := logging.New(&cb, "DEBUG", "console")
			writeSubmitLine(logging.Begin(cl, slog.LevelInfo, c.event), "alice", c.cmd, c.d, c.id, "SENDER", "40722570240999", 11)
			keys := consoleKeys(cb.String())
			wantKeys := slices.Sorted(maps.Keys(want))
			if !slices.Equal(keys, wantKeys) {
				t.Errorf("console keys %v, want %v (%q)", keys, wantKeys, cb.String())
			}
		})
	}
}

// consoleKeys returns the sorted keys of a console line's key=value fields
// (values here have no spaces, except quoted ones).
func consoleKeys(line string) []string {
	var keys []string
	for _, f := range strings.Fields(line) {
		if k, _, ok := strings.Cut(f, "="); ok && !strings.ContainsAny(k, `"`) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// TestSubmitLineOffDoesNoWork: above INFO the line returns before it
// looks anything up (a nil session would panic if it did).
func TestSubmitLineOffDoesNoWork(t *testing.T) {
	var buf bytes.Buffer
	l, _ := logging.New(&buf, "WARNING", "json")
	h := &Handler{log: l}
	h.logSubmit(nil, time.Now(), decision{status: pdu.StatusInvDstAdr}, nil, pdu.CmdSubmitSM, "", "A", "B", 1)
	h.logSubmit(new(logging.Batch), time.Now(), decision{status: pdu.StatusInvDstAdr}, nil, pdu.CmdSubmitSM, "", "A", "B", 1)
	if buf.Len() != 0 {
		t.Fatalf("wrote %q", buf.String())
	}
}
