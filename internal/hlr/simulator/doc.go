// Package simulator is a deterministic HLR provider for demos, load tests
// and local runs without TMT credentials. [Simulator] implements
// hlr.Lookuper; [Simulator.Handler] serves the same rules as a
// TMT-Live-compatible HTTP API at /{key}/{secret}/{msisdn} (any path prefix
// is allowed; the last three segments count), so the real tmt client can be
// exercised locally with HLR_BASE_URL=http://127.0.0.1:8090.
//
// Rules, first match wins (msisdn = E.164 digits):
//
//	exact 13476841841     valid: status 0, error 0, present yes, mobile
//	exact 40722570240999  status 1, invalid number
//	exact 2347010000044   error 191, network not supported (portability)
//	exact 33387840133     error 193, fixed landline
//	not 1–15 digits       status 1, invalid number
//	prefix 1999           valid (benchmarks: "always valid")
//	prefix 4099           status 1, invalid number (benchmarks: "always invalid")
//	suffix 0001           error 1, unknown subscriber, present no
//	suffix 0002           error 2, owning network unreachable, present no
//	suffix 0003           status 3, congestion (no usable answer)
//	suffix 0004           status 2, not authorised (no usable answer)
//	suffix 0027           error 27, absent (switched off), present no
//	suffix 0033           error 33, network congestion (no usable answer)
//	suffix 0191           error 191, network not supported (portability)
//	suffix 0192           error 192, network not supported (origin network)
//	suffix 0193           error 193, fixed landline
//	suffix 0408           slow: answers after 30 s (exceeds any timeout)
//	suffix 0500           HTTP 500 (no usable answer)
//	otherwise, by last digit:
//	  0–5 valid, 6 invalid number (status 1), 7 unknown subscriber (error 1),
//	  8 absent (error 27), 9 landline (error 193)
//
// The HTTP handler also answers status 2 when the simulator was built with
// a key/secret and the request carries others. Latency (SIMULATOR_LATENCY_MS)
// is added before every answer; both waits honour the context.
package simulator
