package logging

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Throttled returns a logger that writes, per event, the first record and
// then at most one record per every, with "repeated": the records it
// stands for. It is for sources that report the same trouble in bursts
// without saying when it is over, such as the Redis client's own log
// lines (one per failed dial). now is the clock (nil: time.Now).
func Throttled(l *slog.Logger, every time.Duration, now func() time.Time) *slog.Logger {
	if now == nil {
		now = time.Now
	}
	return slog.New(&throttledHandler{inner: l.Handler(), every: every, now: now, state: &throttleState{last: map[string]throttled{}}})
}

type throttled struct {
	at      time.Time
	pending int
}

// throttleState is shared by a throttledHandler and its WithAttrs and
// WithGroup derivatives.
type throttleState struct {
	mu   sync.Mutex
	last map[string]throttled // by event; events are a fixed set of names
}

type throttledHandler struct {
	inner slog.Handler
	every time.Duration
	now   func() time.Time
	state *throttleState
}

func (h *throttledHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *throttledHandler) Handle(ctx context.Context, r slog.Record) error {
	now := h.now()
	s := h.state
	s.mu.Lock()
	t, seen := s.last[r.Message]
	if seen && now.Sub(t.at) < h.every {
		t.pending++
		s.last[r.Message] = t
		s.mu.Unlock()
		return nil
	}
	if len(s.last) < DefaultRepeatMaxKeys || seen {
		s.last[r.Message] = throttled{at: now}
	}
	s.mu.Unlock()
	if t.pending > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("repeated", t.pending+1))
	}
	return h.inner.Handle(ctx, r)
}

func (h *throttledHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.inner = h.inner.WithAttrs(attrs)
	return &c
}

func (h *throttledHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.inner = h.inner.WithGroup(name)
	return &c
}
