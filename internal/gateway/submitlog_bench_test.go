package gateway

import (
	"log/slog"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/logging"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

type discardOut struct{}

func (discardOut) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkSubmitLine is the per-message line of the reject path at the
// default level, as logSubmit writes it (time given, the level checked),
// into the buffered Writer the gateway logs through, its output discarded.
func BenchmarkSubmitLine(b *testing.B) {
	for _, format := range []string{"json", "console"} {
		b.Run(format, func(b *testing.B) {
			w := logging.NewWriter(discardOut{}, logging.WriterOptions{Bytes: 1 << 20})
			defer w.Close()
			l, err := logging.New(w, "INFO", format)
			if err != nil {
				b.Fatal(err)
			}
			d := decision{status: pdu.StatusInvDstAdr, detail: "valid"}
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				x := logging.BeginAt(l, now, slog.LevelInfo, "submit.rejected")
				writeSubmitLine(x, "bench", pdu.CmdSubmitSM, d, "", "BenchSrc", "19990000042", 40)
				now = now.Add(3 * time.Microsecond) // a new millisecond every 333 lines
			}
		})
	}
}
