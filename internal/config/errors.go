package config

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every configuration error.
var ErrInvalid = errors.New("config: invalid configuration")

// FieldError reports an invalid value of one environment variable (or of
// the accounts file). Its message is a single line:
//
//	config: VARIABLE: what is wrong
type FieldError struct {
	Var string // the variable, e.g. "SMPP_PORT"
	Msg string // what is wrong, never containing a secret
	Err error  // the underlying cause, if any
}

func (e *FieldError) Error() string {
	return oneLine("config: " + e.Var + ": " + e.Msg)
}

// Unwrap exposes ErrInvalid and the cause to errors.Is and errors.As.
func (e *FieldError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalid}
	}
	return []error{ErrInvalid, e.Err}
}

func fieldErr(name, format string, args ...any) *FieldError {
	return &FieldError{Var: name, Msg: fmt.Sprintf(format, args...)}
}

func fieldErrCause(name string, cause error, format string, args ...any) *FieldError {
	return &FieldError{Var: name, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// oneLine folds any line breaks (as YAML errors contain) into "; ".
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	lines := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	parts := lines[:0]
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}
