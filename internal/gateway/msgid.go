package gateway

import (
	"sync/atomic"
	"time"
)

// IDs generates message ids: 16 uppercase hex characters of a 64-bit
// value made of 32 bits of seconds since 2024-01-01 UTC, a 12-bit
// instance tag and a 20-bit counter. Ids are unique within an instance
// across restarts as long as its clock does not go back, and across
// instances whose tags differ (the application takes distinct tags from
// Redis when several instances share one, and switches a generator to
// another tag with SetTag when its own turns out to be another's). When
// more than 2^20 ids are needed in one second the generator borrows the
// next second.
type IDs struct {
	tag   atomic.Uint64
	now   func() time.Time
	state atomic.Uint64 // seconds<<20 | counter of the last id
}

var idEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// NewIDs returns a generator for instance tag (only its low 12 bits count).
func NewIDs(tag uint16, now func() time.Time) *IDs {
	if now == nil {
		now = time.Now
	}
	g := &IDs{now: now}
	g.SetTag(tag)
	return g
}

// SetTag makes the ids minted from now on carry tag (its low 12 bits).
func (g *IDs) SetTag(tag uint16) { g.tag.Store(uint64(tag & 0xFFF)) }

// Next returns a new message id.
func (g *IDs) Next() string { return g.NextAt(g.now()) }

// NextAt returns a new message id for a message accepted at now (the
// caller's clock reading, which saves reading the clock again).
func (g *IDs) NextAt(now time.Time) string {
	sec := uint64(now.Sub(idEpoch)/time.Second) & 0xFFFFFFFF
	for {
		old := g.state.Load()
		next := sec << 20
		if old>>20 >= sec {
			next = old + 1 // same (or borrowed) second: count on
		}
		if g.state.CompareAndSwap(old, next) {
			v := (next>>20)<<32 | g.tag.Load()<<20 | next&0xFFFFF
			return formatID(v)
		}
	}
}

// formatID writes v as 16 uppercase hexadecimal digits, straight into the
// id's octets (no lowercase pass over hex.Encode's output).
func formatID(v uint64) string {
	const digits = "0123456789ABCDEF"
	var out [16]byte
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = digits[v&0xF]
		v >>= 4
	}
	return string(out[:])
}
