// Package dlr holds the gateway's delivery receipts: the receipt model and
// its text and deliver_sm form (as the README gives them), the Queue
// interface with three implementations, and the Dispatcher that sends
// receipts to the receiver binds of their account.
//
//   - [Receipt] is what a submit_sm_resp promised. [Receipt.Text] is the
//     exact receipt text, [Receipt.DeliverSM] the PDU, and
//     [Receipt.MarshalBinary] the compact encoding stored by the queues.
//   - [MemoryQueue] keeps pending receipts in process: fast, about 100
//     octets per receipt (a compact entry without pointers; about 190 MB
//     resident for a million pending), and lost on restart (the
//     application says so at start-up).
//   - [RedisQueue] keeps them in Redis: durable, shared by every gateway
//     instance, with leases (visibility timeouts) so a crashed instance's
//     receipts are taken over. Puts are group commits (redisput.go); on
//     a Cluster a master that is hung or slow gets a lane of its own
//     (lane.go), so it holds no committer. See docs/receipts.md.
//   - [BufferedQueue] wraps a queue (the Redis one) and keeps receipts
//     created during an outage (per account: the accounts whose part of
//     Redis fails), and the outcome records of receipt-less messages, in
//     a bounded buffer until it is back.
//   - [Dispatcher] runs one scheduling loop per shard of accounts
//     (Options.Shards, by the hash of the system_id, so one account's
//     receipts keep their order): no goroutine or timer per receipt. A loop
//     claims due receipts only for accounts with a receiver bound
//     ([Dispatcher.ReceiversChanged]) and sends them through a [Sender];
//     the shard's answer goroutine settles the answers: removes delivered
//     receipts, retries with backoff, drops permanent refusals. Expired
//     receipts are dropped (each logged and counted once), and the
//     dispatcher answers query_sm and cancel_sm. The deliver_sm in flight
//     (Options.MaxInFlight) are shared out between the accounts that want
//     them (fairshare.go); a claim not answered within Options.ClaimWait
//     is left to finish while the loop goes on (lateclaim.go); an account
//     whose claim failed is set aside and probed in the background until
//     its part of the queue answers (probe.go); expiry, lease upkeep and the counts are swept by a
//     goroutine of their own (loop.go, sweeper), so a hung Redis shard
//     holds neither the loops nor the other accounts.
//
// Delivery is at least once: a receipt leaves the queue only after a
// deliver_sm_resp OK, a permanent refusal (ESME_RX_P_APPN, ESME_RX_R_APPN),
// expiry (DLR_TTL_SECONDS) or cancel_sm.
package dlr
