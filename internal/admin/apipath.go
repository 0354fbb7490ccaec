package admin

import (
	"net/http"
	"path"
	"strings"
)

// apiFirst sends every request for a path under /api/ (as sent, or once
// cleaned) to api, and the others to rest. The mux must not see them
// first: it answers an unclean path (/api/v1//sessions,
// /api/v1/../metrics) with a redirect, to anyone, before any handler
// checks the token.
func apiFirst(api, rest http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isAPIPath(r.URL.Path) || isAPIPath(r.URL.EscapedPath()) {
			api.ServeHTTP(w, r)
			return
		}
		rest.ServeHTTP(w, r)
	})
}

// isAPIPath reports whether p, or p cleaned, is under /api/.
func isAPIPath(p string) bool {
	const prefix = "/api/"
	return strings.HasPrefix(p, prefix) || strings.HasPrefix(cleanPath(p), prefix)
}

// cleanPath is p as http.ServeMux routes it: rooted, without . and ..
// elements or repeated slashes, keeping a trailing slash.
func cleanPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	np := path.Clean(p)
	if strings.HasSuffix(p, "/") && np != "/" {
		np += "/"
	}
	return np
}
