package dlr

// memHeap is a binary min-heap of entries by due time, keeping each
// entry's position up to date so entries can be fixed or removed in
// O(log n). Comparisons and swaps are plain field accesses that inline;
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

func (h *memHeap) len() int           { return len(h.a) }
func (h *memHeap) peek() heapSlot     { return h.a[0] }
func (h *memHeap) less(i, j int) bool { return h.a[i].key < h.a[j].key }

func (h *memHeap) swap(i, j int) {
	h.a[i], h.a[j] = h.a[j], h.a[i]
	h.s.at(h.a[i].ref).pos = int32(i)
	h.s.at(h.a[j].ref).pos = int32(j)
}

func (h *memHeap) push(r memRef, key int64) {
	h.a = append(h.a, heapSlot{key: key, ref: r})
	h.s.at(r).pos = int32(len(h.a) - 1)
	h.up(len(h.a) - 1)
}

func (h *memHeap) remove(i int) {
	n := len(h.a) - 1
	if i != n {
		h.swap(i, n)
	}
	h.a[n] = heapSlot{}
	h.a = h.a[:n]
	if i != n {
		h.fix(i, h.a[i].key)
	}
	if cap(h.a) > 64 && len(h.a) < cap(h.a)/4 { // give memory back after a burst
		h.a = append(make([]heapSlot, 0, cap(h.a)/2), h.a...)
	}
}

// fix sets the key of the slot at i and restores the order.
func (h *memHeap) fix(i int, key int64) {
	h.a[i].key = key
	if !h.down(i) {
		h.up(i)
	}
}

func (h *memHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h *memHeap) down(i0 int) bool {
	i, n := i0, len(h.a)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}
