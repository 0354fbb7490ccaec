// Package smpp is the SMPP v3.4 server: listeners, sessions, the bind state
// machine, windows, timers and graceful shutdown.
//
// Each connection is a Session with exactly one reader goroutine and one
// writer goroutine. The reader frames and decodes PDUs, enforces the state
// table of SMPP v3.4 and hands client requests to a Handler; responses and
// the server's own requests are encoded into a shared buffer that the writer
// flushes in batches, so one write system call carries many PDUs under load.
//
// Session states:
//
//	StateOpen       connected, not bound: only bind_* is accepted
//	StateBoundTX    bound as transmitter: submit_* and friends
//	StateBoundRX    bound as receiver: the server may send deliver_sm
//	StateBoundTRX   bound as transceiver: both
//	StateUnbinding  an unbind was sent or received; the session is ending
//	StateClosed     the connection is closed
//
// The server answers every request it reads: unknown commands get
// generic_nack ESME_RINVCMDID, requests in the wrong state get their
// response with ESME_RINVBNDSTS, bodies that do not decode get the
// response with the field's status, and a command_length outside
// 16..MaxPDULength gets generic_nack ESME_RINVCMDLEN and a close, because
// the stream can no longer be framed.
package smpp
