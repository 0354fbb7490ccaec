// Package esme is a small SMPP v3.4 client (an ESME): it binds in any
// mode, submits messages, answers deliver_sm and enquire_link from the
// server and unbinds. The send, bench and demo commands and the tests use
// it. Like the server, a Client has one reader and one writer goroutine
// and batches its writes, so a load generator built on it is not the
// bottleneck.
package esme
