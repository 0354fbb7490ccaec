package smpp

import (
	"context"
	"crypto/subtle"
	"net/netip"

	"golang.org/x/time/rate"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// Account is one client account allowed to bind.
type Account struct {
	SystemID        string
	Password        string
	MaxBinds        int            // concurrent binds across all sessions; 0 = unlimited
	Throughput      float64        // messages per second; 0 = unlimited
	AllowedNetworks []netip.Prefix // empty = any address
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

// AccountState is an account with its shared throughput limiter: every
// session bound to the account draws from the same bucket.
type AccountState struct {
	Account
	limiter *rate.Limiter
}

// Allow reports whether one more message fits the account's throughput.
func (a *AccountState) Allow() bool {
	return a.limiter == nil || a.limiter.Allow()
}

// Accounts is a fixed set of accounts; it implements Authenticator.
type Accounts struct {
	byID map[string]*AccountState
}

// NewAccounts builds the account set. Each account gets a token bucket of
// its throughput with a burst of one second's worth (at least 1).
func NewAccounts(accounts []Account) *Accounts {
	a := &Accounts{byID: make(map[string]*AccountState, len(accounts))}
	for _, acc := range accounts {
		st := &AccountState{Account: acc}
		if acc.Throughput > 0 {
			burst := int(acc.Throughput)
			if burst < 1 {
				burst = 1
			}
			st.limiter = rate.NewLimiter(rate.Limit(acc.Throughput), burst)
		}
		a.byID[acc.SystemID] = st
	}
	return a
}

// Authenticate checks the system_id, the password (in constant time) and
// the client's network.
func (a *Accounts) Authenticate(_ context.Context, req BindRequest) (*AccountState, pdu.Status) {
	st, ok := a.byID[req.SystemID]
	if !ok {
		return nil, pdu.StatusInvSysID
	}
	if subtle.ConstantTimeCompare([]byte(st.Password), []byte(req.Password)) != 1 {
		return nil, pdu.StatusInvPaswd
	}
	if len(st.AllowedNetworks) > 0 && !inNetworks(st.AllowedNetworks, req.Remote) {
		return nil, pdu.StatusBindFail
	}
	return st, pdu.StatusOK
}

func inNetworks(nets []netip.Prefix, ip netip.Addr) bool {
	for _, n := range nets {
		if prefixContains(n, ip) {
			return true
		}
	}
	return false
}
