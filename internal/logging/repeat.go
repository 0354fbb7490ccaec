package logging

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Defaults of RepeatOptions.
const (
	DefaultRepeatEvery   = 30 * time.Second
	DefaultRepeatMaxKeys = 1024
)

// RepeatOptions configures a Repeats.
type RepeatOptions struct {
	// Level of the failure lines (default slog.LevelWarn; the zero value
	// is INFO, so it is taken as "not set").
	Level slog.Level
	// Every is the least time between two lines of one key while its
	// failure goes on unchanged (default DefaultRepeatEvery).
	Every time.Duration
	// Recovered is the event logged (at INFO) when a failing key succeeds
	// again; empty logs nothing.
	Recovered string
	// Now is the clock (default time.Now, which carries a monotonic
	// reading).
	Now func() time.Time
	// MaxKeys bounds the keys followed at once (default
	// DefaultRepeatMaxKeys); failures of further keys share one entry.
	MaxKeys int
}

// Repeats keeps a failure that repeats (a Redis that is down, polled every
// 250 ms per account) from flooding the log: for each key the first
// failure (the change from working to failing) is logged at once; while
// failures go on, at most one line per Every, with the latest error, how
// many failures it stands for ("repeated") and for how long the key has
// been failing ("failing_for"); the first success after failures logs the
// Recovered event once. A key thus logs at most 1 + T/Every failure lines
// in T, even when its error text flaps (a refused dial, then a timeout).
// It is safe for concurrent use.
type Repeats struct {
	log   *slog.Logger
	event string
	o     RepeatOptions

	mu    sync.Mutex
	state map[string]*repeatState
}

type repeatState struct {
	since      time.Time // first failure of this run
	lastLogged time.Time
	pending    int // failures since the last line, not yet logged
	total      int // failures of this run
}

// overflowKey collects the failures of keys beyond MaxKeys.
const overflowKey = "\x00other"

// NewRepeats returns a Repeats that logs event on log.
func NewRepeats(log *slog.Logger, event string, o RepeatOptions) *Repeats {
	if o.Level == 0 {
		o.Level = slog.LevelWarn
	}
	if o.Every <= 0 {
		o.Every = DefaultRepeatEvery
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = DefaultRepeatMaxKeys
	}
	return &Repeats{log: log, event: event, o: o, state: make(map[string]*repeatState)}
}

// Failed records a failure of key; attrs describe it (the key itself
// included, e.g. system_id) and are logged with the error as "err".
func (r *Repeats) Failed(ctx context.Context, key string, err error, attrs ...slog.Attr) {
	now := r.o.Now()
	msg := err.Error()
	r.mu.Lock()
	st := r.state[key]
	if st == nil {
		if len(r.state) >= r.o.MaxKeys {
			key = overflowKey
			st = r.state[key]
		}
		if st == nil {
			st = &repeatState{since: now}
			r.state[key] = st
		}
	}
	st.total++
	first := st.total == 1
	if !first && now.Sub(st.lastLogged) < r.o.Every {
		st.pending++
		r.mu.Unlock()
		return
	}
	repeated := st.pending + 1
	failingFor := now.Sub(st.since)
	st.lastLogged, st.pending = now, 0
	r.mu.Unlock()

	if !r.log.Enabled(ctx, r.o.Level) {
		return
	}
	out := make([]slog.Attr, 0, len(attrs)+3)
	out = append(out, attrs...)
	out = append(out, slog.String("err", msg))
	if !first {
		out = append(out, slog.Int("repeated", repeated), slog.String("failing_for", roundDuration(failingFor)))
	}
	r.log.LogAttrs(ctx, r.o.Level, r.event, out...)
}

// Succeeded records that key works; after failures it logs the Recovered
// event with how many failures there were and for how long.
func (r *Repeats) Succeeded(ctx context.Context, key string, attrs ...slog.Attr) {
	r.mu.Lock()
	st := r.state[key]
	if st == nil {
		r.mu.Unlock()
		return
	}
	delete(r.state, key)
	r.mu.Unlock()
	if r.o.Recovered == "" {
		return
	}
	out := make([]slog.Attr, 0, len(attrs)+2)
	out = append(out, attrs...)
	out = append(out, slog.Int("failures", st.total), slog.String("failing_for", roundDuration(r.o.Now().Sub(st.since))))
	r.log.LogAttrs(ctx, slog.LevelInfo, r.o.Recovered, out...)
}

// roundDuration renders d for people: milliseconds below a minute,
// seconds above.
func roundDuration(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
