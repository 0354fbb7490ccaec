package gateway

import "sync"

// jobQueue is the workers' queue: one first-in-first-out line per
// account, served in turn, one job per account per turn. With one line
// for everyone, an account flooding uncached numbers queued hundreds of
// submits ahead of another account's few, which then waited for every one
// of them to get a worker and ran out of their lookup time
// (ESME_RSYSERR) while the flood's own were served. jobShare bounds what
// each account may queue; this decides the order. push never blocks (the
// reader calls it); pop blocks until a job is queued or the queue is
// closed and empty.
type jobQueue struct {
	// ready holds one token per queued job: a worker takes a token, then
	// a job. Its capacity is every place jobShare admits, so push finds
	// room; closing it lets the workers drain what is queued, then stop.
	ready chan struct{}

	mu     sync.Mutex
	closed bool
	lines  map[string]*jobLine
	turn   []*jobLine // accounts with queued jobs, in the order they are served
	next   int        // index in turn of the account served next
}

// compactAfter is how many served jobs a line keeps before it drops them.
const compactAfter = 64

// jobLine is one account's queued jobs, oldest first.
type jobLine struct {
	account string
	jobs    []job
	head    int
}

func newJobQueue(capacity int) *jobQueue {
	return &jobQueue{ready: make(chan struct{}, capacity), lines: make(map[string]*jobLine)}
}

// push queues j for account; false when the queue is full (not reached
// while jobShare admits no more than its capacity) or closed.
func (q *jobQueue) push(account string, j job) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || len(q.ready) == cap(q.ready) {
		return false // only push adds tokens, under mu: the send below finds room
	}
	l := q.lines[account]
	if l == nil {
		l = &jobLine{account: account}
		q.lines[account] = l
	}
	if l.head == len(l.jobs) { // the account joins the turn, last
		q.turn = append(q.turn, l)
	}
	l.jobs = append(l.jobs, j)
	// The token after the job: a worker that takes it waits for mu and
	// finds the job.
	q.ready <- struct{}{}
	return true
}

// pop takes the next job in turn; false once the queue is closed and
// empty.
func (q *jobQueue) pop() (job, bool) {
	if _, ok := <-q.ready; !ok {
		return job{}, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.next >= len(q.turn) {
		q.next = 0
	}
	l := q.turn[q.next]
	j := l.jobs[l.head]
	l.jobs[l.head] = job{} // the request is not kept alive by the line
	l.head++
	if l.head < len(l.jobs) {
		if l.head >= compactAfter && 2*l.head >= len(l.jobs) {
			// An account that always has jobs queued never empties its
			// line: the served part is dropped, or it would grow for ever.
			n := copy(l.jobs, l.jobs[l.head:])
			clear(l.jobs[n:])
			l.jobs, l.head = l.jobs[:n], 0
		}
		q.next++
		return j, true
	}
	// The line is empty: it leaves the turn (the next account moves into
	// its index) and gives its memory back, but for a small slice.
	last := len(q.turn) - 1
	copy(q.turn[q.next:], q.turn[q.next+1:])
	q.turn[last] = nil // not kept alive by the slice's spare room
	q.turn = q.turn[:last]
	delete(q.lines, l.account)
	return j, true
}

// close ends the queue: pop returns what is queued, then false; push
// refuses.
func (q *jobQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.ready)
	}
}

// capacity is how many jobs the queue holds.
func (q *jobQueue) capacity() int { return cap(q.ready) }
