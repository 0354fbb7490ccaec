// Package hlr is the HLR lookup layer: the provider-neutral [Lookuper]
// interface and [Result], the error sentinels, the classification rules
// shared by providers, and the decorators that make lookups cheap and safe.
//
// # Results and errors
//
// A Lookuper returns a usable answer (nil error) whose [Class] is
// [ClassValid] (a live mobile subscriber: the gateway rejects the submit) or
// [ClassInvalid] (anything else the HLR answered: accept and send a receipt
// with Result.ErrCode). When there is no usable answer the error wraps
// [ErrTimeout] or [ErrProvider]; [ErrCircuitOpen] and [ErrNetworkFailure]
// also match ErrProvider. A caller's own cancellation comes back as
// context.Canceled. [Classify] turns TMT-shaped fields ([Answer]) into a
// Result using the configurable receipt codes [ErrCodes] ([DefaultErrCodes],
// [ParseErrCodes]); the tmt and simulator providers both use it.
// [Numbering] turns an SMPP destination address (its dest_addr_ton and a
// default region) into E.164 digits with libphonenumber's numbering plans,
// and knows numbers that cannot exist (the precheck).
//
// # Answers without a billed lookup
//
// A [Resolver] stands in front of the chain: it normalises an account's
// destination, answers it from the prefix [Rules] (HLR_RULES_FILE, held
// by a reloadable [RulesHolder]) or the numbering-plan precheck
// (HLR_PRECHECK), and otherwise asks the chain with the E.164 number, so
// the cache key, the coalescing key and the provider request are the same
// for every spelling of a number. Every lookup answered without a provider
// call is counted in hlr_lookups_avoided_total{by}.
//
// # Decorators
//
// Outermost first, as [NewChain] composes them:
//
//   - [NewMemoryCache]: in-process tier (cache.Memory[Result]); hits are
//     counted in hlr_cache_hits_total{tier="memory"}, Source = SourceMemory.
//   - [NewRedisCache]: shared tier (cache.Redis, key "hlr:{msisdn}", JSON);
//     fail-open: an unreachable Redis is a miss. Source = SourceRedis.
//   - [NewCoalescing]: concurrent lookups of one number share one call
//     (singleflight). The shared call is bounded by the chain timeout and
//     not by any one caller; every caller still leaves when its own context
//     ends. Inside the shared call the chain rechecks the cache and stores
//     the answer before releasing it, so a burst of lookups of one number
//     costs exactly one provider call.
//   - [NewLimiter]: at most HLR_MAX_CONCURRENCY (default 256) provider calls
//     in flight (hlr_inflight_requests). While lookups wait, freed slots go
//     to the accounts in turn ([WithAccount]), so one account's burst does
//     not hold up the others. A lookup waits at most HLR_SLOT_WAIT_SECONDS (ChainOptions.SlotWait, 1 s) for
//     a slot (hlr_slot_wait_timeouts_total, answered by the timeout policy,
//     never seen by the breaker), then has HLR_TIMEOUT_SECONDS for the call;
//     one that finds a slot free with less left calls only when more is
//     left than the provider's recent answers took.
//   - [NewBreaker]: a circuit breaker (sony/gobreaker/v2) that opens after
//     consecutive ErrProvider/ErrTimeout failures, fails fast with
//     ErrCircuitOpen, and probes recovery after OpenTimeout. Usable answers
//     and ErrNetworkFailure are successes (hlr_breaker_state, which turns
//     half-open when the open period ends). When timeouts opened it, its
//     refusals also match ErrTimeout, so the timeout policy keeps deciding.
//   - [NewInstrumented]: hlr_requests_total{result} and hlr_latency_seconds
//     for real provider calls only.
//
// Only usable answers are cached; TTL 0 disables caching. Temporary answers
// (Result.Temporary: absent, unreachable, busy, other present "no" states)
// are cached for ChainOptions.TemporaryTTL instead. A Redis hit is kept in
// memory only for what remains of its Redis TTL (Result.Expires).
//
// Metrics go to an injected prometheus.Registerer ([NewMetrics]; nil means
// none); the logger is injected (nil discards).
package hlr
