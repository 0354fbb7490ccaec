package dlr

import "strings"

// memAccount is one system id of a MemoryQueue: its name, the due order of
// its pending receipts (memDue) and how many entries (pending or remembered) name
// it. Entries hold its number, not its name, so a million receipts share
// one copy of the system id.
type memAccount struct {
	id   string
	due  memDue
	refs int
}

// memAccounts numbers the accounts that entries name; a number whose
// account no entry names any more is reused. Number 0 is no account.
type memAccounts struct {
	byName map[string]uint32
	list   []*memAccount // by number; list[0] is nil
	free   []uint32
	// last is the account ref or find found last (0: none): receipts
	// come in runs of one account, and comparing a name costs less than
	// hashing it.
	last uint32
}

func newMemAccounts() memAccounts {
	return memAccounts{byName: make(map[string]uint32), list: []*memAccount{nil}}
}

func (m *memAccounts) get(n uint32) *memAccount { return m.list[n] }

// find returns the account named id, nil when no entry names it.
func (m *memAccounts) find(id string) *memAccount {
	if a := m.list[m.last]; a != nil && a.id == id {
		return a
	}
	if n, ok := m.byName[id]; ok {
		m.last = n
		return m.list[n]
	}
	return nil
}

func (m *memAccounts) name(n uint32) string {
	if n == 0 {
		return ""
	}
	return m.list[n].id
}

// ref returns the number of the account named id, adding it if needed,
// and counts one more entry naming it.
func (m *memAccounts) ref(id string, s *memStore) uint32 {
	if id == "" {
		return 0
	}
	if a := m.list[m.last]; a != nil && a.id == id {
		a.refs++
		return m.last
	}
	n, ok := m.byName[id]
	if !ok {
		a := &memAccount{id: strings.Clone(id), due: newMemDue(s)}
		if k := len(m.free); k > 0 {
			n, m.free = m.free[k-1], m.free[:k-1]
			m.list[n] = a
		} else {
			n = uint32(len(m.list))
			m.list = append(m.list, a)
		}
		m.byName[a.id] = n
	}
	m.list[n].refs++
	m.last = n
	return n
}

// unref counts one entry fewer naming account n and forgets the account
// when none does.
func (m *memAccounts) unref(n uint32) {
	if n == 0 {
		return
	}
	a := m.list[n]
	if a.refs--; a.refs > 0 {
		return
	}
	delete(m.byName, a.id)
	m.list[n] = nil
	if m.last == n {
		m.last = 0
	}
	m.free = append(m.free, n)
}
