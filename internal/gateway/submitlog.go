package gateway

import (
	"log/slog"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/logging"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// logSubmit writes the line of one answered destination (submit.accepted,
// submit.rejected or submit.failed, after d's status). It runs once per
// message, often on a session's reader goroutine: the line is encoded
// without allocating and queued on the log's buffered writer, or added to
// lines (a reader's batch) when not nil. now is the time observe read (the
// clock is read once per message, or once per read for a batch).
func (h *Handler) logSubmit(lines *logging.Batch, now time.Time, d decision, s *smpp.Session, cmd pdu.CommandID, id, src, dst string, length int) {
	event, level := submitEvent(d.status)
	var x *logging.Line
	if lines != nil {
		x = lines.BeginAt(h.log, now, level, event)
	} else {
		x = logging.BeginAt(h.log, now, level, event)
	}
	if x == nil {
		// The level is off (WARNING and above for accepted and
		// rejected): nothing else is looked up.
		return
	}
	writeSubmitLine(x, s.SystemID(), cmd, d, id, src, dst, length)
}

// submitEvent is the event and level of the line of an answer with status.
func submitEvent(status pdu.Status) (event string, level slog.Level) {
	switch outcomeOf(status) {
	case outcomeAccepted:
		event, level = "submit.accepted", slog.LevelInfo
	case outcomeRejected:
		event, level = "submit.rejected", slog.LevelInfo
	default:
		event, level = "submit.failed", slog.LevelWarn
	}
	return event, level
}

// writeSubmitLine adds the fields of a submit line and ends it. At the
// default level this is one line per message, so it writes what an
// operator needs and nothing the line already says: message_id, system_id,
// source, destination and message_length always (message_id is "" when
// none was given); command only when it is not submit_sm; status only on
// submit.failed (submit.accepted is ESME_ROK, submit.rejected
// ESME_RINVDSTADR); receipt_err, reason and detail only when not empty,
// and detail only when it is not the reason again (an answer whose
// classification is its reason).
func writeSubmitLine(x *logging.Line, systemID string, cmd pdu.CommandID, d decision, id, src, dst string, length int) {
	k := &submitKeys
	x = x.StrK(&k.messageID, id).StrK(&k.systemID, systemID)
	if cmd != pdu.CmdSubmitSM {
		x = x.StrK(&k.command, cmd.String())
	}
	x = x.StrK(&k.source, src).StrK(&k.destination, dst).IntK(&k.messageLength, length)
	if !statusImplied(d.status) {
		x = x.StrK(&k.status, d.status.String())
	}
	x = x.OptStrK(&k.receiptErr, d.err).OptStrK(&k.reason, d.reason)
	if d.detail != d.reason {
		x = x.OptStrK(&k.detail, d.detail)
	}
	x.End()
}

// submitKeys are the field names of the submit lines, rendered once
// (never changed after): they are written on every message.
var submitKeys = struct {
	messageID, systemID, command, source, destination, messageLength,
	status, receiptErr, reason, detail logging.Key
}{
	messageID:     logging.NewKey("message_id"),
	systemID:      logging.NewKey("system_id"),
	command:       logging.NewKey("command"),
	source:        logging.NewKey("source"),
	destination:   logging.NewKey("destination"),
	messageLength: logging.NewKey("message_length"),
	status:        logging.NewKey("status"),
	receiptErr:    logging.NewKey("receipt_err"),
	reason:        logging.NewKey("reason"),
	detail:        logging.NewKey("detail"),
}

// statusImplied reports whether the event of a submit line already says
// its status (see observe).
func statusImplied(s pdu.Status) bool {
	return s == pdu.StatusOK || s == pdu.StatusInvDstAdr
}
