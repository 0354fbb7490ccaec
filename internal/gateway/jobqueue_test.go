package gateway

import (
	"slices"
	"testing"
	"time"
)

// TestJobQueueServesAccountsInTurn: the workers take one job per account
// in turn, each account's in the order they came; an account arriving
// behind another's backlog is served next, not after it.
func TestJobQueueServesAccountsInTurn(t *testing.T) {
	q := newJobQueue(16)
	push := func(account string, n int) {
		t.Helper()
		if !q.push(account, job{start: time.Unix(int64(n), 0)}) {
			t.Fatalf("push %s%d refused", account, n)
		}
	}
	pop := func() string {
		t.Helper()
		j, ok := q.pop()
		if !ok {
			t.Fatal("pop: closed")
		}
		for _, l := range []string{"a", "b", "c"} {
			if j.start.Unix()/100 == int64(l[0]-'a') {
				return l + string(rune('0'+j.start.Unix()%100))
			}
		}
		return "?"
	}
	// Accounts a, b, c: job n of account x has start n + 100 × x.
	for i := 1; i <= 4; i++ {
		push("a", i)
	}
	var got []string
	got = append(got, pop())
	push("b", 101)
	push("b", 102)
	got = append(got, pop(), pop())
	push("c", 201)
	for range 4 {
		got = append(got, pop())
	}
	want := []string{"a1", "b1", "a2", "b2", "c1", "a3", "a4"} // c joins the turn last
	if !slices.Equal(got, want) {
		t.Fatalf("served %v, want %v", got, want)
	}
	q.close()
	if _, ok := q.pop(); ok {
		t.Fatal("pop after close of an empty queue returned a job")
	}
	if q.push("a", job{}) {
		t.Fatal("push after close accepted")
	}
}

// TestJobQueueFullAndDrainedOnClose: a full queue refuses without
// blocking; a closed one still hands out what it holds.
func TestJobQueueFullAndDrainedOnClose(t *testing.T) {
	q := newJobQueue(2)
	if !q.push("a", job{}) || !q.push("b", job{}) {
		t.Fatal("push refused below capacity")
	}
	if q.push("a", job{}) {
		t.Fatal("push beyond capacity accepted")
	}
	q.close()
	for i := range 2 {
		if _, ok := q.pop(); !ok {
			t.Fatalf("job %d lost at close", i)
		}
	}
	if _, ok := q.pop(); ok {
		t.Fatal("a third job from two")
	}
}

// TestJobQueueLineStaysBounded: an account that always has a job queued
// never empties its line; the served part is dropped as it goes.
func TestJobQueueLineStaysBounded(t *testing.T) {
	q := newJobQueue(4)
	q.push("a", job{})
	for range 10_000 {
		q.push("a", job{})
		if _, ok := q.pop(); !ok {
			t.Fatal("closed")
		}
	}
	if l := q.lines["a"]; l == nil || cap(l.jobs) > 4*compactAfter {
		t.Fatalf("line of an account never empty: %+v", l)
	}
}
