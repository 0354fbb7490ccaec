package logging

import "strconv"

// Key is a field name checked and rendered once, for the fields a line
// gives on every message: a Line would otherwise test the same name for
// characters to escape, and copy it in pieces, on every line. A Key's
// field is written exactly as the same name given as a string.
type Key struct {
	name string
	// json is `,"name":"`, what a string field starts with in JSON: the
	// name escaped, and slog's message key renamed "event", as the
	// string path writes them.
	json string
	// con is " name=", a console field's start when the handler has no
	// group prefix.
	con string
}

// NewKey prepares name as a field name.
func NewKey(name string) Key {
	return Key{name: name, json: string(appendJSONKey(nil, name)) + `"`, con: " " + name + "="}
}

// jsonIntStart is `,"name":`, what an integer field starts with.
func (k *Key) jsonIntStart() string { return k.json[:len(k.json)-1] }

// StrK is Str with a prepared key.
func (x *Line) StrK(k *Key, val string) *Line {
	if x == nil {
		return nil
	}
	if x.json != nil && isPlainJSON(val) {
		// The usual field: the key's start, the value and its quote.
		x.buf = append(append(append(x.buf, k.json...), val...), '"')
		return x
	}
	if x.con != nil && x.con.prefix == "" && isPlainConsole(val) {
		x.buf = append(append(x.buf, k.con...), val...)
		return x
	}
	return x.Str(k.name, val)
}

// OptStrK is OptStr with a prepared key.
func (x *Line) OptStrK(k *Key, val string) *Line {
	if val == "" {
		return x
	}
	return x.StrK(k, val)
}

// IntK is Int with a prepared key.
func (x *Line) IntK(k *Key, v int) *Line {
	if x == nil {
		return nil
	}
	if x.json != nil {
		x.buf = appendDecimal(append(x.buf, k.jsonIntStart()...), v)
		return x
	}
	if x.con != nil && x.con.prefix == "" {
		x.buf = appendDecimal(append(x.buf, k.con...), v)
		return x
	}
	return x.Int(k.name, v)
}

// appendDecimal is strconv.AppendInt in base 10, with the values below
// 1000 (a message's length, the usual integer field) written digit by
// digit.
func appendDecimal(buf []byte, v int) []byte {
	switch {
	case v < 0 || v >= 1000:
		return strconv.AppendInt(buf, int64(v), 10)
	case v < 10:
		return append(buf, byte('0'+v))
	case v < 100:
		return append(buf, byte('0'+v/10), byte('0'+v%10))
	}
	return append(buf, byte('0'+v/100), byte('0'+v/10%10), byte('0'+v%10))
}
