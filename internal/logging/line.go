package logging

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// Line is one log record of string and integer fields, encoded straight
// into a pooled buffer in the logger's format (json or console) and handed
// to the output in one Write: no slog.Record, no allocation. It is for the
// lines logged per message; the output is exactly what the same fields
// given to slog would give.
//
//	logging.Begin(logger, slog.LevelInfo, "submit.accepted").Str("message_id", id).Int("message_length", n).End()
//
// Begin returns nil when the level is disabled; every method of a nil
// *Line does nothing. A Line must not be used after End.
type Line struct {
	// The handler encoding the line, when it is one of this package's
	// (concrete types: the calls per field are direct); both nil: the
	// fields go to slog as attrs.
	json *jsonHandler
	con  *consoleHandler

	buf    []byte
	logger *slog.Logger
	level  slog.Level
	event  string
	attrs  []slog.Attr // the fields, when neither handler encodes them
	batch  *Batch      // the Batch this Line is, whose buffer buf extends; nil for a pooled Line

	// The timestamp's text up to the second, for the second it was last
	// made for: lines come many per second, and formatting a time is a
	// good part of a line's cost. Per Line (the pool keeps Lines per
	// processor), so nothing is shared.
	stampSec int64
	stamp    [len(secondFormat)]byte
	stampOK  bool

	// What follows the timestamp (level, event, the handler's attributes)
	// as last rendered by this Line, and for which handler (headJSON or
	// headCon), level and event: the lines of one kind come again and
	// again, and the event's escaping and padding is then one copy. A
	// handler's attributes do not change once it is made, and the
	// pointer keeps the handler alive, so no other handler can take its
	// address.
	head      []byte
	headArr   [64]byte // head's storage, when it fits: no allocation of its own
	headJSON  *jsonHandler
	headCon   *consoleHandler
	headLevel slog.Level
	headEvent string

	// The whole start of the line up to its fields (for JSON the
	// opening, the timestamp and the head), as last rendered by this
	// Line (startOK), for the millisecond startMs and the head's kind
	// above: a Line writes hundreds of lines within a millisecond, and
	// the start is then one copy.
	start    []byte
	startArr [128]byte // start's storage, when it fits
	startMs  int64
	startOK  bool
}

var linePool = sync.Pool{New: func() any { return &Line{buf: make([]byte, 0, 512)} }}

// Begin starts a line at level with event as its event (message), timed
// now; nil when logger does not log level.
func Begin(logger *slog.Logger, level slog.Level, event string) *Line {
	return BeginAt(logger, time.Now(), level, event)
}

// BeginAt is Begin with the line's time given (a caller that has just
// read the clock).
func BeginAt(logger *slog.Logger, t time.Time, level slog.Level, event string) *Line {
	// This package's handlers are checked by their concrete types: their
	// level is a field, read without the two interface calls of
	// logger.Enabled.
	switch h := logger.Handler().(type) {
	case *jsonHandler:
		if level < h.level {
			return nil
		}
		if h.fast {
			x := linePool.Get().(*Line)
			x.json = h
			x.buf = x.appendJSONStart(x.buf[:0], t, h, level, event)
			return x
		}
	case *consoleHandler:
		if level < h.level {
			return nil
		}
		x := linePool.Get().(*Line)
		x.con = h
		x.buf = x.appendConsoleStart(x.buf[:0], t, h, level, event)
		return x
	}
	if !logger.Enabled(context.Background(), level) {
		return nil
	}
	x := linePool.Get().(*Line)
	x.logger, x.level, x.event = logger, level, event
	return x
}

// appendJSONStart appends the start of a JSON line up to its fields:
// copied from the last line's when it was rendered for the same
// millisecond, handler, level and event.
func (x *Line) appendJSONStart(buf []byte, t time.Time, h *jsonHandler, level slog.Level, event string) []byte {
	ms := t.UnixMilli()
	if ms != x.startMs || !x.startOK || h != x.headJSON || level != x.headLevel || event != x.headEvent {
		start := x.appendTime(append(x.startBuf(), jsonLineStart...), t)
		x.start = x.appendJSONHead(start, h, level, event)
		x.startMs, x.startOK = ms, true
	}
	return append(buf, x.start...)
}

// appendConsoleStart is appendJSONStart for the console handler.
func (x *Line) appendConsoleStart(buf []byte, t time.Time, h *consoleHandler, level slog.Level, event string) []byte {
	ms := t.UnixMilli()
	if ms != x.startMs || !x.startOK || h != x.headCon || level != x.headLevel || event != x.headEvent {
		x.start = x.appendConsoleHead(x.appendTime(x.startBuf(), t), h, level, event)
		x.startMs, x.startOK = ms, true
	}
	return append(buf, x.start...)
}

// startBuf is start emptied, on startArr the first time.
func (x *Line) startBuf() []byte {
	if x.start == nil {
		return x.startArr[:0]
	}
	return x.start[:0]
}

// appendJSONHead appends h's head of a line at level with event, rendered
// again only when it is not the one this Line rendered last.
func (x *Line) appendJSONHead(buf []byte, h *jsonHandler, level slog.Level, event string) []byte {
	if h != x.headJSON || level != x.headLevel || event != x.headEvent {
		x.head = h.appendHead(x.headBuf(), level, event)
		x.headJSON, x.headCon, x.headLevel, x.headEvent = h, nil, level, event
	}
	return append(buf, x.head...)
}

// appendConsoleHead is appendJSONHead for the console handler.
func (x *Line) appendConsoleHead(buf []byte, h *consoleHandler, level slog.Level, event string) []byte {
	if h != x.headCon || level != x.headLevel || event != x.headEvent {
		x.head = h.appendHead(x.headBuf(), level, event)
		x.headJSON, x.headCon, x.headLevel, x.headEvent = nil, h, level, event
	}
	return append(buf, x.head...)
}

// headBuf is head emptied, on headArr the first time.
func (x *Line) headBuf() []byte {
	if x.head == nil {
		return x.headArr[:0]
	}
	return x.head[:0]
}

// Str adds a string field.
func (x *Line) Str(key, val string) *Line {
	if x == nil {
		return nil
	}
	if x.json != nil {
		x.buf = appendJSONStrField(x.buf, key, val)
	} else if x.con != nil {
		x.buf = x.con.appendStr(x.buf, key, val)
	} else {
		x.attrs = append(x.attrs, slog.String(key, val))
	}
	return x
}

// OptStr adds a string field unless val is empty: a field that often has
// nothing to say costs nothing then.
func (x *Line) OptStr(key, val string) *Line {
	if val == "" {
		return x
	}
	return x.Str(key, val)
}

// Int adds an integer field.
func (x *Line) Int(key string, v int) *Line {
	if x == nil {
		return nil
	}
	if x.json != nil {
		x.buf = strconv.AppendInt(appendJSONKey(x.buf, key), int64(v), 10)
	} else if x.con != nil {
		x.buf = x.con.appendInt(x.buf, key, int64(v))
	} else {
		x.attrs = append(x.attrs, slog.Int(key, v))
	}
	return x
}

// End writes the line and returns the Line to its pool; a Batch's Line
// is added to its Batch.
func (x *Line) End() {
	if x == nil {
		return
	}
	if x.batch != nil {
		x.batch.end(x)
		return
	}
	if x.json != nil {
		x.json.endLine(x.buf)
	} else if x.con != nil {
		x.con.endLine(x.buf)
	} else {
		x.logger.LogAttrs(context.Background(), x.level, x.event, x.attrs...)
		clear(x.attrs)
		x.attrs = x.attrs[:0]
	}
	if cap(x.buf) > 64<<10 {
		x.buf = make([]byte, 0, 512) // do not keep a huge line's buffer
	}
	x.json, x.con, x.logger, x.event = nil, nil, nil, ""
	linePool.Put(x)
}

// secondFormat is TimeFormat up to the second, with the decimal point.
const secondFormat = "2006-01-02T15:04:05."

// appendTime appends t as TimeFormat, formatting the part up to the
// second once per second.
func (x *Line) appendTime(buf []byte, t time.Time) []byte {
	sec := t.Unix()
	if sec != x.stampSec || !x.stampOK {
		// Once a second: the date and time of day (t.Year and the like
		// cost a calendar computation each).
		t = t.UTC()
		if y := t.Year(); y < 0 || y > 9999 {
			return t.AppendFormat(buf, TimeFormat) // not this length
		}
		t.AppendFormat(x.stamp[:0], secondFormat) // years 0..9999: always this length
		x.stampSec, x.stampOK = sec, true
	}
	ms := t.Nanosecond() / int(time.Millisecond)
	buf = append(buf, x.stamp[:]...)
	return append(buf, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}
