// Package logging builds the gateway's log/slog logger.
//
// LOG_FORMAT=json writes one JSON object per line whose first keys are
// timestamp (RFC 3339, milliseconds, UTC), level (debug, info, warning,
// error) and event (the slog message), followed by the record's attributes:
//
//	{"timestamp":"2026-11-25T18:05:05.123Z","level":"info","event":"submit.accepted","message_id":"0A1B2C3D4E5F6071"}
//
// LOG_FORMAT=console writes aligned lines for people:
//
//	2026-11-25T18:05:05.123Z INFO  submit.accepted          message_id=0A1B2C3D4E5F6071 destination=40722570240999
//
// Event names are dotted, lower-case identifiers (subject.verb), so the
// message of every log call is a stable event name, not prose; a test keeps
// docs/operations.md's table of events and the code's log calls one.
// Durations are written as Go durations ("1.5s") in both formats.
//
// Repeats limits the lines of a failure that repeats (one per outage and
// key, then at most one per interval with a count).
//
// NewBuffered puts a Writer between the handlers and the output: lines are
// queued in a bounded buffer and written many per write(2) by one
// goroutine, at least every DefaultFlushInterval and on Close; lines that
// do not fit while the output is blocked are dropped, counted and
// reported. When the output is a pipe, NewBuffered grows its kernel
// buffer (F_SETPIPE_SZ, Linux) so that a reader that is briefly not
// scheduled does not block those writes. A Line writes a record of string
// and integer fields (the per-message lines) without slog.Record and
// without allocating, in the same bytes slog would write; OptStr leaves
// out a field with nothing to say, and a Key names a field that is written
// on every line (its JSON and console forms are rendered once). A Batch
// gathers one goroutine's Lines and hands them to the output in one Write
// when the goroutine flushes it (a session's reader, once per read): the
// Writer's lock, shared by every session, is taken once per batch, not
// once per line; a Writer keeps the lines of such a Write that fit and
// drops and counts the rest, line by line.
package logging
