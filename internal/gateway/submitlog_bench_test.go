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
// into the buffered Writer the gateway logs through, its output discarded:
// from one goroutine, and from as many as there are processors (as the
// sessions' readers log), where the Writer's lock is shared. The loop
// flushes the Writer every 1024 lines, as its goroutine would if it got a
// processor in time: a benchmark keeps both busy, and a line the Writer
// drops costs less than one it keeps (drops/op says how many were).
func BenchmarkSubmitLine(b *testing.B) {
	d := decision{status: pdu.StatusInvDstAdr, detail: "valid"}
	line := func(l *slog.Logger, w *logging.Writer, now time.Time, i int) {
		x := logging.BeginAt(l, now, slog.LevelInfo, "submit.rejected")
		writeSubmitLine(x, "bench", pdu.CmdSubmitSM, d, "", "BenchSrc", "19990000042", 40)
		if i%1024 == 0 {
			_ = w.Flush()
		}
	}
	for _, format := range []string{"json", "console"} {
		for _, parallel := range []bool{false, true} {
			name := format
			if parallel {
				name += "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				w := logging.NewWriter(discardOut{}, logging.WriterOptions{Bytes: 1 << 20})
				defer w.Close()
				l, err := logging.New(w, "INFO", format)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				if parallel {
					b.RunParallel(func(pb *testing.PB) {
						now := time.Now()
						for i := 0; pb.Next(); i++ {
							line(l, w, now, i)
							now = now.Add(3 * time.Microsecond)
						}
					})
				} else {
					// A new millisecond every 333 lines.
					now := time.Now()
					for i := 0; b.Loop(); i++ {
						line(l, w, now, i)
						now = now.Add(3 * time.Microsecond)
					}
				}
				b.ReportMetric(float64(w.Dropped())/float64(b.N), "drops/op")
			})
		}
	}
}
