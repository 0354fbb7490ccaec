package simulator

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Handler serves the rules as a TMT-Live-compatible JSON API:
// GET [prefix]/{key}/{secret}/{msisdn} → {"<msisdn>": {...}}.
func (s *Simulator) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Simulator) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 3 {
		http.Error(w, "want /{key}/{secret}/{msisdn}", http.StatusNotFound)
		return
	}
	key, secret, msisdn := parts[len(parts)-3], parts[len(parts)-2], parts[len(parts)-1]
	ctx := r.Context()
	if err := wait(ctx, s.o.Latency); err != nil {
		return
	}
	rule := RuleFor(msisdn)
	if s.o.APIKey != "" && s.o.APISecret != "" && (key != s.o.APIKey || secret != s.o.APISecret) {
		rule = ruleNotAuthorised
	}
	switch rule.Kind {
	case KindSlow:
		if err := wait(ctx, SlowDelay); err != nil {
			return
		}
		rule = ruleValid
	case KindHTTPError:
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	body, err := json.Marshal(map[string]Entry{msisdn: EntryFor(msisdn, rule)})
	if err != nil {
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}
