package admin

import (
	"net/http"
	"strings"
	"time"
)

// unreadBody wraps the routes, none of which reads a request body (the
// profiler's symbol lookup aside). After such a handler, net/http reads
// what the client declared (up to 256 KB) before it answers, to keep the
// connection: a client that declares a body and never sends it would
// hold its answer and one of METRICS_MAX_CONNECTIONS for the whole
// ReadTimeout. Such a request is answered at once and its connection
// closed within unreadBodyWait instead.
func unreadBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 && !strings.HasPrefix(r.URL.Path, PathPprof) {
			w.Header().Set("Connection", "close")
			// The body is still read after the answer, so that the close
			// does not reset a connection whose client sent it (the
			// reset could destroy the answer before the client reads
			// it), but for unreadBodyWait at most.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(unreadBodyWait))
		}
		h.ServeHTTP(w, r)
	})
}

// unreadBodyWait bounds the wait for a declared request body that no
// route reads.
const unreadBodyWait = time.Second
