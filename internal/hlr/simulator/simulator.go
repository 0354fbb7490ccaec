package simulator

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

// Options configures a Simulator.
type Options struct {
	// Latency is added before every answer (SIMULATOR_LATENCY_MS).
	Latency time.Duration
	// ErrCodes maps answers to receipt err codes (zero: defaults).
	ErrCodes hlr.ErrCodes
	// APIKey and APISecret, if both set, are required by the HTTP handler;
	// other credentials get status 2. Lookup ignores them.
	APIKey, APISecret string
}

// Simulator is a deterministic hlr.Lookuper. It is safe for concurrent use.
type Simulator struct {
	o Options
}

var _ hlr.Lookuper = (*Simulator)(nil)

// New returns a simulator.
func New(o Options) *Simulator { return &Simulator{o: o} }

// Lookup implements hlr.Lookuper with the rules of RuleFor.
func (s *Simulator) Lookup(ctx context.Context, msisdn string) (hlr.Result, error) {
	if err := wait(ctx, s.o.Latency); err != nil {
		return hlr.Result{}, fmt.Errorf("simulator: %w", hlr.ContextError(err))
	}
	r := RuleFor(msisdn)
	switch r.Kind {
	case KindSlow:
		if err := wait(ctx, SlowDelay); err != nil {
			return hlr.Result{}, fmt.Errorf("simulator: %w", hlr.ContextError(err))
		}
		r = ruleValid
	case KindHTTPError:
		return hlr.Result{}, fmt.Errorf("simulator: %w: HTTP 500", hlr.ErrProvider)
	}
	raw, err := json.Marshal(EntryFor(msisdn, r))
	if err != nil {
		return hlr.Result{}, fmt.Errorf("simulator: %w: %w", hlr.ErrProvider, err)
	}
	res, err := hlr.Classify(hlr.Answer{
		Status:        r.Status,
		StatusMessage: r.StatusMessage,
		Error:         r.Error,
		Present:       r.Present,
		LineType:      r.Type,
		Network:       r.Network,
		MCC:           r.MCC,
		MNC:           r.MNC,
		Ported:        ported(r),
		Raw:           raw,
	}, s.o.ErrCodes)
	if err != nil {
		return hlr.Result{}, fmt.Errorf("simulator: %w", err)
	}
	return res, nil
}

// wait sleeps for d or until ctx ends, whichever is first.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func ported(r Rule) *bool {
	if r.Status != 0 {
		return nil
	}
	f := false
	return &f
}

// Entry is the TMT Live JSON entry the simulator answers with.
type Entry struct {
	Number        json.RawMessage `json:"number"`
	Status        int             `json:"status"`
	StatusMessage string          `json:"status_message"`
	Error         int             `json:"error"`
	CIC           *string         `json:"cic,omitempty"`
	IMSI          *string         `json:"imsi,omitempty"`
	MCC           *string         `json:"mcc,omitempty"`
	MNC           *string         `json:"mnc,omitempty"`
	Network       *string         `json:"network,omitempty"`
	OCN           *string         `json:"ocn,omitempty"`
	Ported        *bool           `json:"ported,omitempty"`
	Present       *string         `json:"present,omitempty"`
	Type          *string         `json:"type,omitempty"`
	TrxID         string          `json:"trxid"`
}

// EntryFor renders the TMT entry for msisdn under rule r: number as a JSON
// number (a string when it is not one), imsi null unless the subscriber
// is present.
func EntryFor(msisdn string, r Rule) Entry {
	e := Entry{
		Number:        json.RawMessage(msisdn),
		Status:        r.Status,
		StatusMessage: r.StatusMessage,
		Error:         r.Error,
		TrxID:         "sim-" + msisdn,
	}
	// A JSON number has no leading zero: "0740…" (a national number sent
	// as it came, no HLR_DEFAULT_REGION) goes as a string, as anything
	// that is not digits does, or the whole answer would not encode.
	if !digits(msisdn) || (len(msisdn) > 1 && msisdn[0] == '0') {
		q, _ := json.Marshal(msisdn)
		e.Number = q
	}
	if r.Status != 0 {
		return e
	}
	str := func(s string) *string { return &s }
	e.MCC, e.MNC, e.Network, e.Present, e.Type = str(r.MCC), str(r.MNC), str(r.Network), str(r.Present), str(r.Type)
	e.CIC, e.OCN = str("SIM"), str("SIM")
	e.Ported = ported(r)
	if r.Present == "yes" {
		e.IMSI = str(r.MCC + r.MNC + "0000000000")
	} else {
		e.IMSI = nil
	}
	return e
}
