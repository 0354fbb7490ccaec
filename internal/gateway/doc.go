// Package gateway is the business handler: for every submit_sm (and
// data_sm, submit_multi) it looks the destination up in the HLR and filters
// in reverse. A live mobile subscriber is rejected with ESME_RINVDSTADR;
// anything else the HLR answered is accepted with a message id and a
// DELIVRD receipt is scheduled; a lookup without a usable answer follows
// HLR_TIMEOUT_POLICY or HLR_ERROR_POLICY. The SMPP status of every outcome
// is decided in one place, decide.go.
//
// Lookups answered by the in-process cache are decided on the session's
// reader goroutine, and answered at once; the Handler is an
// smpp.ReadBatcher, so what follows those answers (the processing-time
// histogram, the outcome counters, the log lines) waits for the end of
// the read that brought them and is done with one clock reading and one
// Write to the shared log writer per read (readbatch.go). The rest go to
// a fixed pool of workers, so a slow HLR costs no goroutine per message. A
// submit_multi is decided on a goroutine of its own, within a bounded
// number of places. The workers' queue and
// the multi places are shared out per account (fairshare.go): an eighth
// of each pool is kept for accounts holding no place, and the rest is
// shared among those holding places, so a client flooding slow lookups is
// throttled itself and leaves room for others. A receipt is stored before the submit_sm_resp that
// promises it is written.
package gateway
