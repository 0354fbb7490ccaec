// Package bench is the load generator behind the bench command and the
// minimal SMPP responder it is compared with.
//
// Run opens Config.Sessions binds (transceivers by default, or
// transmitters plus as many receivers), keeps up to Config.Window
// submit_sm in flight on each, and stops after Config.Count messages or
// Config.Duration, whichever comes first. With Config.Rate the messages
// are offered at that fixed rate over all sessions (message i is due at
// i/rate after the start; a sender woken late catches up), so latency can
// be compared at the same offered load. Each session has exactly one
// sender goroutine; responses and receipts are handled on the client's
// reader goroutine, so the cost of a message is a closure and a few
// counters, never a goroutine.
//
// Latencies (submit_sm written → submit_sm_resp read) go into a log-linear
// histogram of fixed size, so memory does not grow with the message count.
// With Config.WaitReceipts, every accepted message id is remembered in a
// compact set (a uint64 per hex id) and every deliver_sm is matched against
// it: matched, unmatched (an id we never accepted), duplicates and missing.
//
// Responder is the ceiling: the least an SMSC can do per message on this
// machine. It shares no code with the gateway (neither internal/smpp nor
// the internal/pdu codec): per connection one reader parses the 16-octet
// header, checks command_length and answers at once (any bind is
// accepted; submit_sm gets a unique 16-hex-digit id), and one writer
// hands everything pending to the kernel in one write. With receipts it
// also reads the submit's two addresses and sends a DELIVRD deliver_sm in
// the gateway's format, on the same connection for a transceiver or on a
// receiver bound with the same system_id. A gateway figure divided by the
// responder's is therefore the share of this machine's SMPP limit the
// gateway reaches, its session layer included.
package bench
