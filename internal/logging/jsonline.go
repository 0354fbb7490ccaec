package logging

import (
	"io"
	"log/slog"
	"strconv"
	"unicode/utf8"
)

// jsonHandler is slog's JSON handler as configured by newJSONHandler, which
// can also encode a Line into the same bytes slog would write.
type jsonHandler struct {
	slog.Handler            // slog's handler, WithAttrs and WithGroup applied
	out          io.Writer  // shared with the slog handler; safe for concurrent Writes
	level        slog.Level // the slog handler's: Lines check it without going through it
	attrs        []byte     // `,"key":value` of WithAttrs, when fast
	fast         bool       // false after WithGroup or an attribute Lines cannot pre-render
}

func newLineJSONHandler(w io.Writer, lvl slog.Level) *jsonHandler {
	if _, ok := w.(*Writer); !ok {
		w = &lockedWriter{w: w}
	}
	return &jsonHandler{Handler: newJSONHandler(w, lvl), out: w, level: lvl, fast: true}
}

func (h *jsonHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	c := &jsonHandler{Handler: h.Handler.WithAttrs(attrs), out: h.out, level: h.level, fast: h.fast}
	if c.fast {
		c.attrs = append([]byte(nil), h.attrs...)
		for _, a := range attrs {
			var ok bool
			if c.attrs, ok = appendSimpleJSONAttr(c.attrs, a); !ok {
				c.fast, c.attrs = false, nil
				break
			}
		}
	}
	return c
}

func (h *jsonHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &jsonHandler{Handler: h.Handler.WithGroup(name), out: h.out, level: h.level}
}

// appendSimpleJSONAttr renders a string, integer or boolean attribute as
// slog's JSON handler does; false for any other kind.
func appendSimpleJSONAttr(buf []byte, a slog.Attr) ([]byte, bool) {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return appendJSONStrField(buf, a.Key, v.String()), a.Key != ""
	case slog.KindInt64:
		return strconv.AppendInt(appendJSONKey(buf, a.Key), v.Int64(), 10), true
	case slog.KindUint64:
		return strconv.AppendUint(appendJSONKey(buf, a.Key), v.Uint64(), 10), true
	case slog.KindBool:
		return strconv.AppendBool(appendJSONKey(buf, a.Key), v.Bool()), true
	}
	return buf, false
}

// jsonLineStart is what a JSON line starts with, before its timestamp.
const jsonLineStart = `{"timestamp":"`

// appendHead appends what follows a line's timestamp: the level, the
// event and the handler's own attributes.
func (h *jsonHandler) appendHead(buf []byte, level slog.Level, event string) []byte {
	buf = append(buf, `","level":"`...)
	buf = append(buf, levelName(level)...)
	buf = append(buf, `","event":"`...)
	buf = appendEscapedJSON(buf, event)
	buf = append(buf, '"')
	return append(buf, h.attrs...)
}

// endLine finishes the line in buf and writes it.
func (h *jsonHandler) endLine(buf []byte) {
	buf = finishJSON(buf)
	// As slog: a log call has no one to report a failed write to.
	if w, ok := h.out.(*Writer); ok {
		_, _ = w.Write(buf) // the usual output: a direct call
	} else {
		_, _ = h.out.Write(buf)
	}
}

// finishJSON ends the JSON line in buf.
func finishJSON(buf []byte) []byte { return append(buf, '}', '\n') }

// appendJSONStrField appends `,"key":"val"`, escaped as slog does.
func appendJSONStrField(buf []byte, key, val string) []byte {
	if isPlainJSON(key) && isPlainJSON(val) && key != slog.MessageKey {
		buf = append(buf, ',', '"')
		buf = append(buf, key...)
		buf = append(buf, '"', ':', '"')
		buf = append(buf, val...)
		return append(buf, '"')
	}
	buf = append(appendJSONKey(buf, key), '"')
	return append(appendEscapedJSON(buf, val), '"')
}

// appendJSONKey appends `,"key":`; the top-level key "msg" is renamed
// "event", as newJSONHandler's ReplaceAttr does.
func appendJSONKey(buf []byte, key string) []byte {
	if key == slog.MessageKey {
		key = "event"
	}
	buf = append(buf, ',', '"')
	if isPlainJSON(key) {
		buf = append(buf, key...) // the usual key (an integer field's)
	} else {
		buf = appendEscapedJSON(buf, key)
	}
	return append(buf, '"', ':')
}

// appendEscapedJSON escapes s as log/slog's JSON handler does: quotes,
// backslashes and control characters, invalid UTF-8 as U+FFFD, U+2028 and
// U+2029; not HTML characters.
func appendEscapedJSON(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		// Most of a line is plain ASCII: skip it a word, then a byte, at
		// a time.
		for i+8 <= len(s) && jsonSpecial(load64(s, i)) == 0 {
			i += 8
		}
		for i < len(s) && jsonPlain[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		if b := s[i]; b < utf8.RuneSelf {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\')
			switch b {
			case '\\', '"':
				buf = append(buf, b)
			case '\n':
				buf = append(buf, 'n')
			case '\r':
				buf = append(buf, 'r')
			case '\t':
				buf = append(buf, 't')
			default:
				buf = append(buf, 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\u202`...)
			buf = append(buf, hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(buf, s[start:]...)
}
