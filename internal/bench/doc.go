// Package bench is the load generator behind the bench command and the
// minimal SMPP responder it is compared with.
//
// Run opens Config.Sessions binds (transceivers by default, or
// transmitters plus as many receivers), keeps up to Config.Window
// submit_sm in flight on each, optionally paced by a shared token bucket,
// and stops after Config.Count messages or Config.Duration, whichever
// comes first. Each session has exactly one sender goroutine; responses
// and receipts are handled on the client's reader goroutine, so the cost
// of a message is a closure and a few counters, never a goroutine.
//
// Latencies (submit_sm written → submit_sm_resp read) go into a log-linear
// histogram of fixed size, so memory does not grow with the message count.
// With Config.WaitReceipts, every accepted message id is remembered in a
// compact set (a uint64 per hex id) and every deliver_sm is matched against
// it: matched, unmatched (an id we never accepted), duplicates and missing.
//
// Responder answers every submit_sm at once with a unique id through the
// same internal/smpp server the gateway uses, optionally followed by a
// DELIVRD receipt on the same session, so a gateway figure divided by the
// responder figure isolates the cost of the gateway's own logic.
package bench
