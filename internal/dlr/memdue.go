package dlr

// memDue orders one account's pending receipts by due time. Most receipts
// arrive in due order: the gateway puts them as it accepts messages, each
// due a fixed delay later, and a claim leases them until now plus a fixed
// lease, later than every lease before. Such receipts join the tail of a
// lane (a ring kept in due order) in O(1) and leave its head in O(1),
// where a heap sifts each one from top to bottom, rewriting the position
// of an entry per level it passes (cache misses most of a claim's and an
// acknowledgement's cost under load). What comes out of order (a retry,
// a put due earlier than the one before it) goes to the heap. The earliest
// receipt is the least of the lanes' heads and the heap's top.
//
// An entry's flags say which of the three holds it (memWhere) and its pos
// where: the heap's index, or a lane's sequence number.
type memDue struct {
	heap  memHeap
	lanes [2]memLane // memInPuts, memInLeases
}

// Where a pending entry's due slot is (memEntry.flags & memWhere).
const (
	memInHeap   = 0
	memInPuts   = 1 << 5 // lane of receipts put in due order
	memInLeases = 2 << 5 // lane of leases in the order they end
	memWhere    = memInPuts | memInLeases
	// memLeased: claimed, due again at its lease's end (wherever its
	// slot is: a lease out of order goes to the heap).
	memLeased = 1 << 7
)

func newMemDue(s *memStore) memDue {
	return memDue{heap: memHeap{s: s}, lanes: [2]memLane{{s: s}, {s: s}}}
}

// len is the number of pending receipts.
func (d *memDue) len() int { return d.heap.len() + d.lanes[0].live() + d.lanes[1].live() }

// lane returns the lane of where (memInPuts or memInLeases).
func (d *memDue) lane(where uint8) *memLane { return &d.lanes[where>>5-1] }

// peek returns the earliest due slot; len() > 0.
func (d *memDue) peek() heapSlot {
	x, _ := d.first()
	return x
}

// first returns the earliest due slot and where it is; len() > 0. Of equal
// keys the put lane's comes first, then the heap's, then the lease lane's.
func (d *memDue) first() (heapSlot, uint8) {
	var best heapSlot
	where, found := uint8(0), false
	if l := &d.lanes[0]; l.live() > 0 {
		best, where, found = l.front(), memInPuts, true
	}
	if d.heap.len() > 0 {
		if x := d.heap.peek(); !found || x.key < best.key {
			best, where, found = x, memInHeap, true
		}
	}
	if l := &d.lanes[1]; l.live() > 0 {
		if x := l.front(); !found || x.key < best.key {
			best, where = x, memInLeases
		}
	}
	return best, where
}

// push adds entry ref, due at key: at the tail of the put lane when no
// receipt there is due later, else into the heap.
func (d *memDue) push(ref memRef, key int64) {
	d.heap.s.at(ref).flags &^= memLeased
	d.pushTo(memInPuts, ref, key)
}

// pushTo adds entry ref at the tail of lane where when it keeps that
// lane's order, else into the heap.
func (d *memDue) pushTo(where uint8, ref memRef, key int64) {
	e := d.heap.s.at(ref)
	e.flags &^= memWhere
	if d.lane(where).push(ref, e, key) {
		e.flags |= where
		return
	}
	d.heap.push(ref, key)
}

// lease moves the earliest slot x, found by first at where, to key: the
// end of its lease.
func (d *memDue) lease(x heapSlot, where uint8, key int64) {
	if where == memInHeap {
		d.heap.remove(0)
	} else {
		d.lane(where).popFront()
	}
	d.pushTo(memInLeases, x.ref, key)
	d.heap.s.at(x.ref).flags |= memLeased
}

// leasedUntil is when the lease of pending entry ref ends, or 0 when it
// is not leased.
func (d *memDue) leasedUntil(ref memRef) int64 {
	if d.heap.s.at(ref).flags&memLeased == 0 {
		return 0
	}
	return d.key(ref)
}

// remove takes pending entry ref out.
func (d *memDue) remove(ref memRef) {
	e := d.heap.s.at(ref)
	if w := e.flags & memWhere; w != memInHeap {
		d.lane(w).remove(uint32(e.pos))
		e.flags &^= memWhere
		return
	}
	d.heap.remove(int(e.pos))
}

// fix makes pending entry ref due at key (a retry: no longer leased).
func (d *memDue) fix(ref memRef, key int64) {
	e := d.heap.s.at(ref)
	e.flags &^= memLeased
	if e.flags&memWhere == memInHeap {
		d.heap.fix(int(e.pos), key)
		return
	}
	d.remove(ref)
	d.heap.push(ref, key)
}

// key returns the due time of pending entry ref.
func (d *memDue) key(ref memRef) int64 {
	e := d.heap.s.at(ref)
	if w := e.flags & memWhere; w != memInHeap {
		return d.lane(w).at(uint32(e.pos)).key
	}
	return d.heap.a[e.pos].key
}

// renumber makes the slot of pending entry e name nr (the store is being
// compacted; e is the entry's old copy, nr already holds the new one).
func (d *memDue) renumber(e *memEntry, nr memRef) {
	if w := e.flags & memWhere; w != memInHeap {
		d.lane(w).at(uint32(e.pos)).ref = nr
		return
	}
	d.heap.a[e.pos].ref = nr
}

// memLane is a ring of due slots in order of key. A slot is named by its
// sequence number (the ring index is its low bits), which stays the same
// when the ring grows or shrinks. A slot removed from the middle is left
// dead (ref memNoRef) until the head passes it; the head is never dead.
// When most slots are dead the live ones are packed together, which is
// the only time entries are renumbered.
type memLane struct {
	a          []heapSlot // len a power of two, or nil
	head, tail uint32     // sequence numbers: slots in [head, tail)
	dead       int
	s          *memStore
}

// memLaneMinDead is how many dead slots a lane keeps before it packs.
const memLaneMinDead = 64

// memLaneKeep is the ring size a lane keeps however empty it gets (16 KiB):
// a steady load fills and empties a lane by a few thousand receipts from
// one moment to the next, and giving the ring back each time cost an
// allocation and a copy per doubling.
const memLaneKeep = 1024

func (l *memLane) size() int               { return int(l.tail - l.head) }
func (l *memLane) live() int               { return l.size() - l.dead }
func (l *memLane) at(seq uint32) *heapSlot { return &l.a[seq&uint32(len(l.a)-1)] }
func (l *memLane) front() heapSlot         { return *l.at(l.head) }

// push appends ref (its entry e), due at key, unless a slot in the lane is
// due later.
func (l *memLane) push(ref memRef, e *memEntry, key int64) bool {
	if l.size() > 0 && l.at(l.tail-1).key > key {
		return false
	}
	if l.size() == len(l.a) {
		l.resize(max(2*len(l.a), 16))
	}
	*l.at(l.tail) = heapSlot{key: key, ref: ref}
	e.pos = int32(l.tail)
	l.tail++
	return true
}

// popFront removes the head slot.
func (l *memLane) popFront() {
	*l.at(l.head) = heapSlot{}
	l.head++
	if l.dead > 0 {
		l.skipDead()
	}
	if len(l.a) > memLaneKeep && l.size() < len(l.a)/4 {
		l.shrink()
	}
}

// remove removes the slot seq.
func (l *memLane) remove(seq uint32) {
	if seq == l.head {
		l.popFront()
		return
	}
	l.at(seq).ref = memNoRef // its key stays: the tail's still orders pushes
	l.dead++
	if l.dead >= memLaneMinDead && 2*l.dead > l.size() {
		l.pack()
	}
}

// skipDead moves the head past dead slots.
func (l *memLane) skipDead() {
	for l.head != l.tail && l.at(l.head).ref == memNoRef {
		*l.at(l.head) = heapSlot{}
		l.head++
		l.dead--
	}
}

// resize moves the slots into a ring of n slots (a power of two, at least
// size()); sequence numbers stay.
func (l *memLane) resize(n int) {
	old, oldMask := l.a, uint32(len(l.a)-1)
	l.a = make([]heapSlot, n)
	for seq := l.head; seq != l.tail; seq++ {
		*l.at(seq) = old[seq&oldMask]
	}
}

// pack moves the live slots together, in order, ending where the lane
// ends, and tells their entries their new sequence numbers.
func (l *memLane) pack() {
	to := l.tail
	for seq := l.tail; seq != l.head; {
		seq--
		x := *l.at(seq)
		if x.ref == memNoRef {
			continue
		}
		to--
		*l.at(to) = x
		l.s.at(x.ref).pos = int32(to)
	}
	for seq := l.head; seq != to; seq++ {
		*l.at(seq) = heapSlot{}
	}
	l.head, l.dead = to, 0
	l.shrink()
}

// shrink gives memory back once the lane is mostly empty.
func (l *memLane) shrink() {
	n := len(l.a)
	for n > memLaneKeep && l.size() < n/4 {
		n /= 2
	}
	if n != len(l.a) {
		l.resize(n)
	}
}
