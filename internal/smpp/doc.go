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
// The reader takes the clock's reading once per read(2), not per PDU: the
// frames one read brings share it as their Request.Received. A Handler
// that also implements ReadBatcher gets a ReadBatch per session, whose
// EndRead the reader calls once the requests it served since the last
// call are done and it is about to wait (its next read, room in the
// output buffer), and once more when it stops. Work that is the same for
// every request answered on the reader goroutine (reading the clock,
// handing log lines to a shared writer under its lock) can then be done
// once per read instead of once per request; nothing may be left pending
// after EndRead returns.
//
// The server answers every request it reads: unknown commands (a
// command_id with the response bit set included) get generic_nack
// ESME_RINVCMDID, requests in the wrong state get their response with
// ESME_RINVBNDSTS (judged from the header, before the body), bodies that
// do not decode get the response with the field's status (a reserved
// priority_flag ESME_RINVPRTFLG, say), and a command_length outside
// 16..MaxPDULength gets generic_nack ESME_RINVCMDLEN and a close, because
// the stream can no longer be framed.
//
// Every per-connection resource is bounded (see Options): the output
// buffer (past MaxOutputBytes the reader stops until the writer drains it;
// full for SlowConsumerTimeout closes the session as slow_consumer), the
// requests answered before a bind (MaxPrebindRequests), the window both
// ways. Admission refuses a connection at once over the total cap, the cap
// per remote address or the cap on connections not yet bound. Failed binds
// are slowed down per address and per address + system_id before the
// password is checked, and an address with too many is refused for a
// while, in fixed-size tables.
//
// A bind is decided on the reader: its failed-bind delay, the password
// check and, with shared limits, the bind lease (a Redis call bounded by
// the response timeout) all run before the next PDU of that connection is
// read. That is the one wait on a reader, and it is deliberate: until the
// bind is answered the session has nothing else to serve, and a request
// the client pipelined behind its bind must be judged in the state the
// bind leaves (served when bound, ESME_RINVBNDSTS when refused), which a
// reader that went on reading could not do. A shutdown or close ends the
// delay at once (the bind is then answered ESME_RBINDFAIL unchecked).
//
// A peer bound with interface_version below 0x34 gets no optional
// parameter in anything the server sends it.
//
// Timers (session-init, inactivity, enquire_link, response timeouts, the
// bind slow-down, the slow-consumer and unbind waits) run on an injected
// Clock, monotonic in production.
package smpp
