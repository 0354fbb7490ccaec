// Package tmt is the TMT Velocity Live HLR provider:
// GET {BaseURL}/{key}/{secret}/{msisdn}, a JSON object keyed by the number.
//
// [New] builds a [Client] (an hlr.Lookuper) from [Options]. Every failure
// (transport, non-2xx, empty body, "{}", not JSON, several entries, unknown
// status, status 2 or 3) is an error wrapping hlr.ErrProvider; a deadline is
// hlr.ErrTimeout. The API key and secret travel in the URL path, so the
// client never puts the URL in an error or a log line unredacted: net/http's
// *url.Error is rewritten, and error texts are scrubbed of the credentials.
// Redirects are refused so the credentials never reach another host.
package tmt
