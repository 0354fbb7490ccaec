package bench

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Config describes one load run. Zero values take the defaults noted.
type Config struct {
	Addr     string // host:port of the SMSC under test; required
	SystemID string
	Password string

	Sessions int  // binds that submit; default 4
	Window   int  // submit_sm in flight per session; default 64
	Separate bool // bind transmitters plus as many receivers instead of transceivers

	Rate     float64       // messages per second over all sessions; 0 = as fast as the window allows
	Count    int64         // stop after this many submit_sm; 0 = no limit
	Duration time.Duration // stop after this long; 0 = no limit (Count or Duration is required)

	DestPrefix string // destination = DestPrefix + index modulo Distinct; default "4099"
	Distinct   int    // distinct destinations; default 1000
	Source     string // source_addr; default "BENCH"
	Text       string // short_message; default "bench"

	WaitReceipts bool // remember accepted ids and wait until every receipt arrived

	// ResponseTimeout bounds the wait for outstanding submit_sm_resp once
	// sending stopped; what is still unanswered then is reported. Default 10 s.
	ResponseTimeout time.Duration
	// ReceiptTimeout bounds the wait for receipts after the last response.
	// Default 30 s.
	ReceiptTimeout time.Duration

	// Progress gets one line per ProgressInterval while the run lasts; nil
	// prints nothing.
	Progress         io.Writer
	ProgressInterval time.Duration // default 1 s
}

func (c *Config) setDefaults() {
	if c.Sessions <= 0 {
		c.Sessions = 4
	}
	if c.Window <= 0 {
		c.Window = 64
	}
	if c.DestPrefix == "" {
		c.DestPrefix = "4099"
	}
	if c.Distinct <= 0 {
		c.Distinct = 1000
	}
	if c.Source == "" {
		c.Source = "BENCH"
	}
	if c.Text == "" {
		c.Text = "bench"
	}
	if c.ResponseTimeout <= 0 {
		c.ResponseTimeout = 10 * time.Second
	}
	if c.ReceiptTimeout <= 0 {
		c.ReceiptTimeout = 30 * time.Second
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = time.Second
	}
}

// Validate reports what makes c unusable, after the defaults of its zero
// fields; Run checks it too.
func (c *Config) Validate() error {
	d := *c
	d.setDefaults()
	return d.validate()
}

func (c *Config) validate() error {
	if c.Addr == "" {
		return errors.New("bench: no address")
	}
	if c.Count <= 0 && c.Duration <= 0 {
		// A run must end by itself; an unbounded flood is never what a
		// benchmark wants.
		return errors.New("bench: give a count or a duration")
	}
	if c.Rate < 0 {
		return fmt.Errorf("bench: negative rate %g", c.Rate)
	}
	if n := len(c.DestPrefix) + suffixWidth(c.Distinct); n > 15 {
		return fmt.Errorf("bench: destinations would have %d digits, more than E.164's 15", n)
	}
	for _, r := range c.DestPrefix {
		if r < '0' || r > '9' {
			return fmt.Errorf("bench: destination prefix %q is not digits", c.DestPrefix)
		}
	}
	return nil
}
