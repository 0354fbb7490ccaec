package smpp

import (
	"context"
	"crypto/subtle"
	"net/netip"
	"sort"
	"sync"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// Account is one client account allowed to bind.
type Account struct {
	SystemID        string
	Password        string
	MaxBinds        int            // concurrent binds across all sessions; 0 = unlimited
	Throughput      float64        // messages per second; 0 = unlimited
	AllowedNetworks []netip.Prefix // empty = any address
	// MaxPending is the most receipts the account may have waiting for
	// delivery; 0 = no cap. The server only carries it, with the rest of
	// the account's settings and through reloads, for its Handler.
	MaxPending int
}

// BindRequest is what an Authenticator sees of a bind.
type BindRequest struct {
	Mode       BindMode
	SystemID   string
	Password   string
	SystemType string
	Remote     netip.Addr
}

// Authenticator decides whether a bind is allowed. It returns the account
// on success, or the bind status to answer (ESME_RINVSYSID,
// ESME_RINVPASWD, ESME_RBINDFAIL).
type Authenticator interface {
	Authenticate(ctx context.Context, req BindRequest) (*AccountState, pdu.Status)
}

// AccountLister is implemented by an Authenticator that can list its
// accounts; the server then exports per-account series for every known
// account, at zero before its first bind.
type AccountLister interface {
	List() []*AccountState
}

// Accounts is a reloadable set of accounts; it implements Authenticator
// and AccountLister.
type Accounts struct {
	newThrottle ThrottleFactory

	mu   sync.RWMutex
	byID map[string]*AccountState
}

// AccountsOptions adjust NewAccountsWith.
type AccountsOptions struct {
	// Throttle builds each account's throughput limiter; nil builds a
	// token bucket in this process (LocalThrottle).
	Throttle ThrottleFactory
}

// NewAccounts builds the account set with per-process throughput limits:
// each account gets a token bucket of its throughput with a burst of one
// second's worth (at least 1).
func NewAccounts(accounts []Account) *Accounts {
	return NewAccountsWith(accounts, AccountsOptions{})
}

// NewAccountsWith builds the account set with the given options.
func NewAccountsWith(accounts []Account, o AccountsOptions) *Accounts {
	if o.Throttle == nil {
		o.Throttle = LocalThrottle
	}
	a := &Accounts{newThrottle: o.Throttle, byID: make(map[string]*AccountState, len(accounts))}
	for _, acc := range accounts {
		a.byID[acc.SystemID] = newAccountState(acc, a.newThrottle)
	}
	return a
}

// Authenticate checks the system_id, the password (in constant time) and
// the client's network against the accounts' current settings.
func (a *Accounts) Authenticate(_ context.Context, req BindRequest) (*AccountState, pdu.Status) {
	st := a.Lookup(req.SystemID)
	if st == nil {
		return nil, pdu.StatusInvSysID
	}
	acc := st.Settings()
	if subtle.ConstantTimeCompare([]byte(acc.Password), []byte(req.Password)) != 1 {
		return nil, pdu.StatusInvPaswd
	}
	if len(acc.AllowedNetworks) > 0 && !inNetworks(acc.AllowedNetworks, req.Remote) {
		return nil, pdu.StatusBindFail
	}
	return st, pdu.StatusOK
}

// Lookup returns the account of systemID, or nil.
func (a *Accounts) Lookup(systemID string) *AccountState {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.byID[systemID]
}

// List returns the accounts sorted by system_id.
func (a *Accounts) List() []*AccountState {
	a.mu.RLock()
	out := make([]*AccountState, 0, len(a.byID))
	for _, st := range a.byID {
		out = append(out, st)
	}
	a.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].SystemID < out[j].SystemID })
	return out
}

func inNetworks(nets []netip.Prefix, ip netip.Addr) bool {
	for _, n := range nets {
		if prefixContains(n, ip) {
			return true
		}
	}
	return false
}
