package gateway

import (
	"log/slog"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/logging"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// logSubmit writes the line of one answered destination (submit.accepted,
// submit.rejected or submit.failed). It runs once per message, often on a
// session's reader goroutine: the line is encoded without allocating and
// queued on the log's buffered writer. now is the time observe read (the
// clock is read once per message).
func (h *Handler) logSubmit(now time.Time, level slog.Level, event string, r *smpp.Request, d decision, id, src, dst string, length int) {
	logging.BeginAt(h.log, now, level, event).
		Str("message_id", id).
		Str("system_id", r.Session.SystemID()).
		Str("command", r.PDU.Command.String()).
		Str("source", src).
		Str("destination", dst).
		Int("message_length", length).
		Str("status", d.status.String()).
		Str("receipt_err", d.err).
		Str("reason", d.reason).
		Str("detail", d.detail).
		End()
}
