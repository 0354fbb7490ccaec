package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// PathAPI is the prefix of the admin API.
const PathAPI = "/api/v1/"

// Session is one bound SMPP session as GET /api/v1/sessions shows it.
type Session struct {
	ID                 string    `json:"id"`
	SystemID           string    `json:"system_id"`
	Bind               string    `json:"bind"` // transmitter, receiver or transceiver
	RemoteAddr         string    `json:"remote_addr"`
	TLS                bool      `json:"tls"`
	InterfaceVersion   string    `json:"interface_version"` // e.g. "0x34"
	BoundAt            time.Time `json:"bound_at"`
	InFlight           int       `json:"in_flight"`
	Submits            uint64    `json:"submits"`
	ReceiptsSent       uint64    `json:"receipts_sent"`
	ReceiptsPendingAck int       `json:"receipts_pending_ack"`
}

// Account is one account as GET /api/v1/accounts shows it.
type Account struct {
	SystemID        string      `json:"system_id"`
	MaxBinds        int         `json:"max_binds"`  // 0 = unlimited
	Throughput      float64     `json:"throughput"` // messages per second; 0 = unlimited
	Binds           Binds       `json:"binds"`
	PendingReceipts int         `json:"pending_receipts"`
	Submits         SubmitStats `json:"submits"`
}

// Binds counts an account's bound sessions: on this instance, and on all
// instances sharing the Redis (null without Redis or when it cannot be
// asked).
type Binds struct {
	Instance int  `json:"instance"`
	Cluster  *int `json:"cluster"`
}

// SubmitStats are the answers given to an account's submits on this
// instance since the account was loaded.
type SubmitStats struct {
	Accepted  uint64 `json:"accepted"`
	Rejected  uint64 `json:"rejected"`
	Throttled uint64 `json:"throttled"`
}

// Message is what GET /api/v1/messages/{message_id} shows of a message.
type Message struct {
	MessageID   string     `json:"message_id"`
	State       string     `json:"state"` // ENROUTE, DELIVERED, EXPIRED, DELETED, UNDELIVERABLE
	SystemID    string     `json:"system_id"`
	Destination string     `json:"destination,omitempty"`
	SubmittedAt *time.Time `json:"submitted_at,omitempty"`
	DoneAt      *time.Time `json:"done_at"`
}

// ReloadResult lists what POST /api/v1/reload changed.
type ReloadResult struct {
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	Changed []string `json:"changed"`
}

// ErrUnavailable is wrapped by Backend errors that mean a store the answer
// needs (the receipt queue in Redis) did not answer: 503, not 500.
var ErrUnavailable = errors.New("admin: store unavailable")

// ErrInvalidConfig is wrapped by Backend.Reload errors that mean the new
// configuration was rejected (answered 400); other errors answer 500.
var ErrInvalidConfig = errors.New("admin: invalid configuration")

// Backend is what the admin API reads and changes; the application
// implements it over its SMPP server, accounts and receipt queue.
type Backend interface {
	Sessions(ctx context.Context) []Session
	// UnbindSession unbinds and closes a session; false when no session
	// has that id.
	UnbindSession(ctx context.Context, id string) bool
	// UnbindAccount unbinds and closes every session of an account on
	// this instance (those being unbound already included: it waits for
	// them) and returns how many; false when the account is neither
	// configured nor has sessions listed.
	UnbindAccount(ctx context.Context, systemID string) (int, bool)
	Accounts(ctx context.Context) ([]Account, error)
	// Message finds a message by id; false when unknown.
	Message(ctx context.Context, id string) (Message, bool, error)
	Reload(ctx context.Context) (ReloadResult, error)
}

// API serves /api/v1/ over a Backend for requests with the bearer token.
type API struct {
	Token   string
	Backend Backend
}

// apiHandler serves everything under PathAPI through one handler that
// checks the token first: an unknown path or a wrong method is answered
// (as JSON) only to a caller with the token, so the API shows nothing of
// itself to others.
func (s *Server) apiHandler(api *API) http.Handler {
	routes := http.NewServeMux()
	s.apiEndpoints(routes, api)
	want := sha256.Sum256([]byte(api.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(bearerToken(r)))
		// Compare digests: constant time, and the token's length does
		// not show either.
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="smpp-hlr-gateway"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		if p := r.URL.EscapedPath(); cleanPath(p) != p {
			// The mux would redirect to the clean path (as HTML); the API
			// names its paths exactly.
			writeError(w, http.StatusNotFound, http.StatusText(http.StatusNotFound)+": "+r.Method+" "+r.URL.Path)
			return
		}
		h, pattern := routes.Handler(r)
		if pattern == "" { // the mux's own 404 or 405: the same answer, as JSON
			rec := &statusOnly{header: http.Header{}}
			h.ServeHTTP(rec, r)
			if allow := rec.header.Get("Allow"); allow != "" {
				w.Header().Set("Allow", allow)
			}
			writeError(w, rec.code, http.StatusText(rec.code)+": "+r.Method+" "+r.URL.Path)
			return
		}
		routes.ServeHTTP(w, r)
	})
}

// bearerToken is the token of an "Authorization: Bearer <token>" header
// (the scheme is case-insensitive, RFC 9110 §11.1), or "".
func bearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// statusOnly records the status and headers a handler writes, and drops
// its body.
type statusOnly struct {
	header http.Header
	code   int
}

func (w *statusOnly) Header() http.Header { return w.header }

func (w *statusOnly) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *statusOnly) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}

// apiEndpoints registers the API's endpoints on routes, without the token
// check (apiHandler does it for all of them).
func (s *Server) apiEndpoints(routes *http.ServeMux, api *API) {
	b := api.Backend
	routes.HandleFunc("GET "+PathAPI+"sessions", func(w http.ResponseWriter, r *http.Request) {
		sessions := nonNil(b.Sessions(r.Context()))
		for i := range sessions {
			sessions[i].BoundAt = toMillis(sessions[i].BoundAt)
		}
		writeJSON(w, http.StatusOK, map[string]any{"sessions": sessions})
	})
	routes.HandleFunc("DELETE "+PathAPI+"sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !b.UnbindSession(r.Context(), id) {
			writeError(w, http.StatusNotFound, "no session "+id)
			return
		}
		// A number, as the smpp.* lines log it (the id is the session's).
		var session any = id
		if n, err := strconv.ParseUint(id, 10, 64); err == nil {
			session = n
		}
		// caller, not remote: in every smpp.* line remote is the SMPP peer,
		// whose own close (reason admin_unbind) is logged with it.
		s.logger.Info("admin.session.unbound", "session", session, "caller", r.RemoteAddr)
		w.WriteHeader(http.StatusNoContent)
	})
	routes.HandleFunc("DELETE "+PathAPI+"accounts/{system_id}/sessions", func(w http.ResponseWriter, r *http.Request) {
		sys := r.PathValue("system_id")
		n, ok := b.UnbindAccount(r.Context(), sys)
		if !ok {
			writeError(w, http.StatusNotFound, "no account "+sys)
			return
		}
		s.logger.Info("admin.account.unbound", "system_id", sys, "sessions", n, "caller", r.RemoteAddr)
		writeJSON(w, http.StatusOK, map[string]any{"system_id": sys, "unbound": n})
	})
	routes.HandleFunc("GET "+PathAPI+"accounts", func(w http.ResponseWriter, r *http.Request) {
		accs, err := b.Accounts(r.Context())
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"accounts": nonNil(accs)})
	})
	routes.HandleFunc("GET "+PathAPI+"messages/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		m, ok, err := b.Message(r.Context(), id)
		switch {
		case errors.Is(err, ErrUnavailable):
			writeError(w, http.StatusServiceUnavailable, err.Error())
		case err != nil:
			writeError(w, http.StatusInternalServerError, err.Error())
		case !ok:
			writeError(w, http.StatusNotFound, "no message "+id)
		default:
			for _, t := range []*time.Time{m.SubmittedAt, m.DoneAt} {
				if t != nil {
					*t = toMillis(*t)
				}
			}
			writeJSON(w, http.StatusOK, m)
		}
	})
	routes.HandleFunc("POST "+PathAPI+"reload", func(w http.ResponseWriter, r *http.Request) {
		res, err := b.Reload(r.Context())
		switch {
		case errors.Is(err, ErrInvalidConfig):
			// The validation error as a start would print it.
			writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), ErrInvalidConfig.Error()+": "))
		case err != nil:
			writeError(w, http.StatusInternalServerError, err.Error())
		default:
			writeJSON(w, http.StatusOK, res)
		}
	})
}

// toMillis is t in UTC to the millisecond, as every time the API shows
// (the queues keep nanoseconds or milliseconds).
func toMillis(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// writeJSON encodes v before the status line goes out: a value that does
// not encode is answered 500 with the reason, never a status with an
// empty body.
func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code = http.StatusInternalServerError
		body, _ = json.Marshal(map[string]string{"error": "cannot encode the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
