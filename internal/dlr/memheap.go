package dlr

// memHeap is a 4-ary min-heap of entries by due time, keeping each
// entry's position up to date so entries can be fixed or removed in
// O(log n). It holds what arrives out of due order (memDue: receipts in
// order go to a lane). Four children rather than two halve the levels an
// entry passes (one moved from the top sinks to the bottom),
// and with them the entries whose position is rewritten; the four
// children's slots share a cache line, so choosing the least costs little
// more than choosing between two. A moving slot is held aside while the
// slots it passes shift into the hole it leaves, and written (with its
// entry's position) once, where it stops. Comparisons and swaps are plain field accesses that inline;
// container/heap's interface calls (or function fields) cost a large share
// of the receipt path.
//
// Each slot holds its entry's key, the due time (Unix nanoseconds), which
// the entry does not repeat: sifting compares within the heap's own array
// instead of reaching an entry per comparison (those cache misses were most
// of the heap's cost under load). Slots name entries by number, not
// pointer, so the garbage collector has nothing to scan here either.
type memHeap struct {
	a []heapSlot
	s *memStore
}

type heapSlot struct {
	key int64
	ref memRef
}

func (h *memHeap) len() int       { return len(h.a) }
func (h *memHeap) peek() heapSlot { return h.a[0] }

// memHeapArity is the number of children of a node.
const memHeapArity = 4

// memHeapParent is the index of the parent of node i > 0.
func memHeapParent(i int) int { return (i - 1) / memHeapArity }

// set puts x at i and tells its entry.
func (h *memHeap) set(i int, x heapSlot) {
	h.a[i] = x
	h.s.at(x.ref).pos = int32(i)
}

func (h *memHeap) push(r memRef, key int64) {
	h.a = append(h.a, heapSlot{key: key, ref: r})
	h.up(len(h.a)-1, h.a[len(h.a)-1])
}

func (h *memHeap) remove(i int) {
	n := len(h.a) - 1
	last := h.a[n]
	h.a[n] = heapSlot{}
	h.a = h.a[:n]
	if i != n {
		h.place(i, last)
	}
	if cap(h.a) > 64 && len(h.a) < cap(h.a)/4 { // give memory back after a burst
		h.a = append(make([]heapSlot, 0, cap(h.a)/2), h.a...)
	}
}

// fix sets the key of the slot at i and restores the order.
func (h *memHeap) fix(i int, key int64) {
	x := h.a[i]
	x.key = key
	h.place(i, x)
}

// place puts x, taken out of the heap, into the hole at i, moving it down
// or up to where it belongs.
func (h *memHeap) place(i int, x heapSlot) {
	if i > 0 && x.key < h.a[memHeapParent(i)].key {
		h.up(i, x)
		return
	}
	h.down(i, x)
}

// up moves x from the hole at j towards the root.
func (h *memHeap) up(j int, x heapSlot) {
	for j > 0 {
		i := memHeapParent(j)
		if x.key >= h.a[i].key {
			break
		}
		h.set(j, h.a[i])
		j = i
	}
	h.set(j, x)
}

// down moves x from the hole at i towards the leaves.
func (h *memHeap) down(i int, x heapSlot) {
	n := len(h.a)
	for {
		first := memHeapArity*i + 1
		if first >= n {
			break
		}
		j := first
		for c := first + 1; c < min(first+memHeapArity, n); c++ {
			if h.a[c].key < h.a[j].key {
				j = c
			}
		}
		if h.a[j].key >= x.key {
			break
		}
		h.set(i, h.a[j])
		i = j
	}
	h.set(i, x)
}
