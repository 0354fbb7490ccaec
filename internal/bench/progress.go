package bench

import (
	"fmt"
	"sync"
	"time"
)

// progress prints a line every ProgressInterval until the returned stop
// is called; stop waits for the printer to finish so no line follows the
// report.
func (r *runner) progress(start time.Time) (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(r.cfg.ProgressInterval)
		defer t.Stop()
		last, lastResp, lastRcpt := start, int64(0), int64(0)
		for {
			select {
			case <-quit:
				return
			case now := <-t.C:
				resp, rcpt := r.responses.Load(), r.receipts.Load()
				secs := now.Sub(last).Seconds()
				fmt.Fprintf(r.cfg.Progress, "%6.1fs  sent %d  responses %d (%.0f/s)  receipts %d (%.0f/s)  in flight %d\n",
					now.Sub(start).Seconds(), r.sent.Load(), resp, float64(resp-lastResp)/secs,
					rcpt, float64(rcpt-lastRcpt)/secs, r.inflight.Load())
				last, lastResp, lastRcpt = now, resp, rcpt
			}
		}
	})
	return func() {
		close(quit)
		wg.Wait()
	}
}
