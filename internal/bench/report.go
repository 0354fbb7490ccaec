package bench

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// Report is the outcome of a Run. Durations are in milliseconds and rates
// per second so the JSON form reads without conversion.
type Report struct {
	Addr     string  `json:"addr"`
	Sessions int     `json:"sessions"`
	Window   int     `json:"window"`
	Separate bool    `json:"separate_receivers"`
	Rate     float64 `json:"rate_limit"`

	// ElapsedSeconds runs from the first submit to the last response;
	// SendingSeconds to the moment the senders stopped.
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	SendingSeconds float64 `json:"sending_seconds"`

	Sent       int64 `json:"sent"`
	Responses  int64 `json:"responses"`
	Failed     int64 `json:"failed"`     // ended by a connection error
	Unanswered int64 `json:"unanswered"` // neither answered nor failed when the run ended

	ResponsesPerSecond float64       `json:"responses_per_second"`
	ByStatus           []StatusCount `json:"by_status"`
	Latency            Latency       `json:"latency_ms"`

	ReceiptsReceived   int64         `json:"receipts_received"`
	ReceiptsPerSecond  float64       `json:"receipts_per_second"`
	ReceiptsTracked    bool          `json:"receipts_tracked"`
	Receipts           *ReceiptStats `json:"receipts,omitempty"` // with WaitReceipts
	ReceiptWaitSeconds float64       `json:"receipt_wait_seconds"`

	Interrupted bool `json:"interrupted"` // the context ended the run early
}

// StatusCount is the number of submit_sm_resp with one command_status.
type StatusCount struct {
	Status uint32 `json:"status"`
	Name   string `json:"name"`
	Count  int64  `json:"count"`
}

// Latency is submit_sm written → submit_sm_resp read, in milliseconds.
type Latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// OK reports whether the run completed: not interrupted, every submit
// answered and, when receipts were tracked, every accepted message's
// receipt matched with none for unknown ids.
func (r *Report) OK() bool {
	if r.Interrupted || r.Failed > 0 || r.Unanswered > 0 {
		return false
	}
	if r.Receipts != nil && (r.Receipts.Missing > 0 || r.Receipts.Unmatched > 0) {
		return false
	}
	return true
}

func (r *runner) report(start, sendEnd time.Time, sessions []*session, interrupted bool) *Report {
	var h histogram
	byStatus := map[pdu.Status]int64{}
	var failed int64
	for _, s := range sessions {
		s.mu.Lock()
		h.merge(&s.hist)
		for st, n := range s.byStatus {
			byStatus[st] += n
		}
		failed += s.failed
		s.mu.Unlock()
	}
	rep := &Report{
		Addr: r.cfg.Addr, Sessions: r.cfg.Sessions, Window: r.cfg.Window, Separate: r.cfg.Separate, Rate: r.cfg.Rate,
		SendingSeconds: sendEnd.Sub(start).Seconds(),
		Sent:           r.sent.Load(),
		Responses:      r.responses.Load(),
		Failed:         failed,
		Latency: Latency{
			Mean: ms(h.mean()), P50: ms(h.quantile(0.50)), P90: ms(h.quantile(0.90)),
			P99: ms(h.quantile(0.99)), P999: ms(h.quantile(0.999)), Max: ms(h.max),
		},
		ReceiptsReceived: r.receipts.Load(),
		ReceiptsTracked:  r.tracker != nil,
		Interrupted:      interrupted,
	}
	rep.Unanswered = max(0, rep.Sent-rep.Responses-rep.Failed)
	if last := r.lastResponse.Load(); last > 0 {
		rep.ElapsedSeconds = time.Unix(0, last).Sub(start).Seconds()
		rep.ResponsesPerSecond = perSecond(rep.Responses, rep.ElapsedSeconds)
	}
	if last := r.lastReceipt.Load(); last > 0 {
		rep.ReceiptsPerSecond = perSecond(rep.ReceiptsReceived, time.Unix(0, last).Sub(start).Seconds())
		if lr := r.lastResponse.Load(); lr > 0 && last > lr {
			rep.ReceiptWaitSeconds = time.Duration(last - lr).Seconds()
		}
	}
	if r.tracker != nil {
		st := r.tracker.stats()
		rep.Receipts = &st
	}
	for st, n := range byStatus {
		rep.ByStatus = append(rep.ByStatus, StatusCount{Status: uint32(st), Name: st.String(), Count: n})
	}
	slices.SortFunc(rep.ByStatus, func(a, b StatusCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Status, b.Status))
	})
	return rep
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func perSecond(n int64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return float64(n) / secs
}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "\n%s: %d sessions × window %d", r.Addr, r.Sessions, r.Window)
	if r.Separate {
		fmt.Fprint(w, " (tx + separate rx)")
	}
	if r.Rate > 0 {
		fmt.Fprintf(w, ", rate limit %.0f/s", r.Rate)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "sent        %d in %.2fs\n", r.Sent, r.SendingSeconds)
	fmt.Fprintf(w, "responses   %d in %.2fs = %.0f/s", r.Responses, r.ElapsedSeconds, r.ResponsesPerSecond)
	if r.Failed > 0 || r.Unanswered > 0 {
		fmt.Fprintf(w, "  (failed %d, unanswered %d)", r.Failed, r.Unanswered)
	}
	fmt.Fprintln(w)
	for _, s := range r.ByStatus {
		fmt.Fprintf(w, "  0x%08X %-20s %d\n", s.Status, s.Name, s.Count)
	}
	l := r.Latency
	fmt.Fprintf(w, "latency ms  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n",
		l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean)
	fmt.Fprintf(w, "receipts    %d = %.0f/s", r.ReceiptsReceived, r.ReceiptsPerSecond)
	if rc := r.Receipts; rc != nil {
		fmt.Fprintf(w, "  matched %d  missing %d  unmatched %d  duplicates %d  (last %.2fs after the last response)",
			rc.Matched, rc.Missing, rc.Unmatched, rc.Duplicates, r.ReceiptWaitSeconds)
	}
	fmt.Fprintln(w)
	if r.Interrupted {
		fmt.Fprintln(w, "interrupted before the run completed")
	}
}
