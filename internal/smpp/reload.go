package smpp

import (
	"context"
	"slices"
	"sort"
	"sync"
)

// ReloadResult lists the system_ids a Replace added, removed and changed,
// each sorted.
type ReloadResult struct {
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	Changed []string `json:"changed"`
}

// Replace makes accounts the account set. New accounts can bind at once;
// a changed password or network list applies to the next bind; changed
// limits apply at once to the sessions already bound; removed accounts can
// no longer bind, and the caller ends their sessions (Server.UnbindAccount).
// The caller validates accounts first.
func (a *Accounts) Replace(accounts []Account) ReloadResult {
	res := ReloadResult{Added: []string{}, Removed: []string{}, Changed: []string{}}
	a.mu.Lock()
	defer a.mu.Unlock()
	seen := make(map[string]bool, len(accounts))
	for _, acc := range accounts {
		seen[acc.SystemID] = true
		st := a.byID[acc.SystemID]
		if st == nil {
			a.byID[acc.SystemID] = newAccountState(acc, a.newThrottle)
			res.Added = append(res.Added, acc.SystemID)
			continue
		}
		if !sameAccount(st.Settings(), acc) {
			st.update(acc)
			res.Changed = append(res.Changed, acc.SystemID)
		}
	}
	for id, st := range a.byID {
		if !seen[id] {
			st.removed.Store(true)
			delete(a.byID, id)
			res.Removed = append(res.Removed, id)
		}
	}
	sort.Strings(res.Added)
	sort.Strings(res.Removed)
	sort.Strings(res.Changed)
	return res
}

func sameAccount(a, b Account) bool {
	return a.SystemID == b.SystemID && a.Password == b.Password && a.MaxBinds == b.MaxBinds &&
		a.Throughput == b.Throughput && a.MaxPending == b.MaxPending && slices.Equal(a.AllowedNetworks, b.AllowedNetworks)
}

// UnbindAccount sends unbind to every session bound to systemID and closes
// them (CloseAccountRemoved), waiting at most until ctx ends. It returns
// the number of sessions it ended: every session of the account that
// SessionInfos lists, those already being unbound (by the client, an
// earlier request, a reload) included; it waits for those to close too,
// and they keep their first close reason.
func (srv *Server) UnbindAccount(ctx context.Context, systemID string) int {
	return srv.unbindAccount(ctx, systemID, CloseAccountRemoved)
}

// UnbindAccountSessions is UnbindAccount for an operator (the admin API):
// the sessions close as admin_unbind, the account stays.
func (srv *Server) UnbindAccountSessions(ctx context.Context, systemID string) int {
	return srv.unbindAccount(ctx, systemID, CloseAdminUnbind)
}

func (srv *Server) unbindAccount(ctx context.Context, systemID string, reason CloseReason) int {
	var victims []*Session
	srv.mu.Lock()
	for s := range srv.sessions {
		// Listed, as SessionInfos lists them: bound, or being unbound
		// after a bind (SystemID is empty before a bind).
		if s.SystemID() == systemID && s.State() != StateClosed {
			victims = append(victims, s)
		}
	}
	srv.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range victims {
		wg.Go(func() { s.unbindAndClose(ctx, reason) })
	}
	wg.Wait()
	return len(victims)
}
