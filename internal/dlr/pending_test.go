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
