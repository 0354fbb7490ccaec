// Package app wires the gateway from its configuration and starts and
// stops the parts in order: admin endpoints, receipt dispatcher, handler
// workers, SMPP listeners on start; on shutdown the reverse, so every
// request already read is answered and receipts that fall due within the
// shutdown window are sent before the sessions are unbound.
package app
