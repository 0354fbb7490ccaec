package dlr

// memHeap is a binary min-heap of entries by due time, keeping each
// entry's position up to date so entries can be fixed or removed in
// O(log n). Comparisons and swaps are plain field accesses that inline;
// container/heap's interface calls (or function fields) cost a large share
// of the receipt path.
//
// Each slot carries a copy of its entry's key, so sifting compares within
// the heap's own array instead of chasing a pointer per comparison (those
// cache misses were most of the heap's cost under load). A key changes
// only through fix, which refreshes the copy.
type memHeap struct {
	a []heapSlot
}

type heapSlot struct {
	key int64
	e   *memEntry
}

func (h *memHeap) len() int           { return len(h.a) }
func (h *memHeap) peek() *memEntry    { return h.a[0].e }
func (h *memHeap) less(i, j int) bool { return h.a[i].key < h.a[j].key }

func (h *memHeap) swap(i, j int) {
	h.a[i], h.a[j] = h.a[j], h.a[i]
	h.a[i].e.idx = int32(i)
	h.a[j].e.idx = int32(j)
}

func (h *memHeap) push(e *memEntry) {
	h.a = append(h.a, heapSlot{key: e.due, e: e})
	e.idx = int32(len(h.a) - 1)
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
		h.fix(i)
	}
	if cap(h.a) > 64 && len(h.a) < cap(h.a)/4 { // give memory back after a burst
		h.a = append(make([]heapSlot, 0, cap(h.a)/2), h.a...)
	}
}

// fix restores the order after the key of the entry at i changed.
func (h *memHeap) fix(i int) {
	h.a[i].key = h.a[i].e.due
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
