package logging

import (
	"log/slog"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// The console handler encodes a Line into the bytes its Handle writes for
// the same fields.

// appendHead appends what follows a line's timestamp: the level, the
// event padded to eventWidth and the handler's own attributes.
func (h *consoleHandler) appendHead(buf []byte, level slog.Level, event string) []byte {
	buf = append(buf, ' ')
	lv := consoleLevel(level)
	buf = append(buf, lv...)
	buf = appendSpaces(buf, 5-len(lv))
	buf = append(buf, ' ')
	buf = append(buf, event...)
	buf = appendSpaces(buf, eventWidth-utf8.RuneCountInString(event))
	return append(buf, h.attrs...)
}

func (h *consoleHandler) appendStr(buf []byte, key, val string) []byte {
	buf = h.appendKey(buf, key)
	if needsQuote(val) {
		return strconv.AppendQuote(buf, val)
	}
	return append(buf, val...)
}

func (h *consoleHandler) appendInt(buf []byte, key string, v int64) []byte {
	return strconv.AppendInt(h.appendKey(buf, key), v, 10)
}

func (h *consoleHandler) appendKey(buf []byte, key string) []byte {
	buf = append(buf, ' ')
	buf = append(buf, h.prefix...)
	buf = append(buf, key...)
	return append(buf, '=')
}

// endLine finishes the line in buf and writes it.
func (h *consoleHandler) endLine(buf []byte) {
	buf = finishConsole(buf)
	if w, ok := h.out.(*Writer); ok {
		_, _ = w.Write(buf) // the usual output: a direct call
	} else {
		_, _ = h.out.Write(buf)
	}
}

// finishConsole ends the console line in buf: the padding of a line with
// no field after its event is cut. A line always has its timestamp, so
// the cut never reaches the line before it in a Batch.
func finishConsole(buf []byte) []byte {
	for len(buf) > 0 && buf[len(buf)-1] == ' ' {
		buf = buf[:len(buf)-1]
	}
	return append(buf, '\n')
}

func appendSpaces(buf []byte, n int) []byte {
	for ; n > 0; n-- {
		buf = append(buf, ' ')
	}
	return buf
}

// needsQuote is quoteIfNeeded's test.
func needsQuote(s string) bool {
	if isPlainConsole(s) {
		return false // the usual value: printable ASCII, nothing to quote
	}
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || r == '=' || r == '"' || r == '\\' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}
