package dlr

import (
	"context"
	"testing"
)

// reloadingQueue answers PendingCounts after a reload removed an account
// in the middle of the refresh.
type reloadingQueue struct {
	*MemoryQueue
	during func()
}

func (q reloadingQueue) PendingCounts(_ context.Context, systems []string) ([]int, error) {
	q.during()
	counts := make([]int, len(systems))
	for i := range counts {
		counts[i] = 7
	}
	return counts, nil
}

func TestRefreshDoesNotBringBackARemovedAccount(t *testing.T) {
	p := newAccountPending()
	p.setAccounts([]string{"alice", "bob"})
	q := reloadingQueue{NewMemoryQueue(MemoryOptions{}), func() { p.setAccounts([]string{"alice"}) }}
	if err := p.refresh(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	known := *p.n.Load()
	if _, ok := known["bob"]; ok {
		t.Fatal("bob, removed during the refresh, is exported again")
	}
	if got := p.get("alice"); got != 7 {
		t.Fatalf("alice's count %d, want 7", got)
	}
}

func TestDoneEachDoesNotBringBackARemovedAccount(t *testing.T) {
	p := newAccountPending()
	p.setAccounts([]string{"alice"})
	p.add("alice", 2)
	p.doneEach([]*Receipt{{SystemID: "alice"}, {SystemID: "bob"}, {SystemID: "bob"}})
	if _, ok := (*p.n.Load())["bob"]; ok {
		t.Fatal("an answer for an unknown account made it known")
	}
	if got := p.get("alice"); got != 1 {
		t.Fatalf("alice's count %d, want 1", got)
	}
}

// TestAccountCountReadsWhatGetReads: an AccountCount kept across changes
// of the followed accounts (a new account, a reload removing and adding
// back its own) reads what get reads after each.
func TestAccountCountReadsWhatGetReads(t *testing.T) {
	p := newAccountPending()
	alice := &AccountCount{p: p, sys: "alice"}
	bob := &AccountCount{p: p, sys: "bob"}
	for _, step := range []struct {
		name string
		do   func()
	}{
		{"unknown", func() {}},
		{"counted", func() { p.add("alice", 3) }},
		{"another account", func() { p.add("bob", 2) }},
		{"taken off", func() { p.add("alice", -1) }},
		{"reload keeps both", func() { p.setAccounts([]string{"alice", "bob"}) }},
		{"counted after the reload", func() { p.add("alice", 5) }},
		{"reload removes alice", func() { p.setAccounts([]string{"bob"}) }},
		{"removed, not counted", func() { p.add("alice", -1) }},
		{"alice comes back at 0", func() { p.setAccounts([]string{"alice", "bob"}) }},
		{"and is counted again", func() { p.add("alice", 4) }},
		{"done", func() { p.doneEach([]*Receipt{{SystemID: "alice"}, {SystemID: "bob"}}) }},
		{"refreshed", func() {
			q := reloadingQueue{NewMemoryQueue(MemoryOptions{}), func() {}}
			if err := p.refresh(context.Background(), q); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		step.do()
		for _, c := range []*AccountCount{alice, bob} {
			if got, want := c.Load(), p.get(c.sys); got != want {
				t.Errorf("%s: %s's AccountCount %d, get %d", step.name, c.sys, got, want)
			}
		}
	}
	if got := alice.Load(); got != 7 {
		t.Fatalf("alice's count %d at the end, want 7", got)
	}
}

// TestRemovedAccountStaysGone: once the accounts file names the accounts
// followed, a removed account's last receipts and receivers (one of two
// receivers unbinding as the reload closes them: ReceiversChanged with 1)
// do not bring its series back.
func TestRemovedAccountStaysGone(t *testing.T) {
	p := newAccountPending()
	p.setAccounts([]string{"alice", "carol"})
	p.setAccounts([]string{"alice"}) // a reload removed carol
	p.touch("carol")
	p.add("carol", 1)
	if _, ok := (*p.n.Load())["carol"]; ok {
		t.Fatal("a removed account is exported again")
	}
	p.add("alice", 1)
	if got := p.get("alice"); got != 1 {
		t.Fatalf("alice's count %d, want 1", got)
	}
}
