package dlr

// memHeap is a binary min-heap of entries by key, keeping each entry's
// position up to date through setIdx so entries can be fixed or removed in
// O(log n). It avoids container/heap's interface conversions.
type memHeap struct {
	a      []*memEntry
	key    func(*memEntry) int64
	setIdx func(*memEntry, int)
}

func (h *memHeap) len() int           { return len(h.a) }
func (h *memHeap) peek() *memEntry    { return h.a[0] }
func (h *memHeap) less(i, j int) bool { return h.key(h.a[i]) < h.key(h.a[j]) }

func (h *memHeap) swap(i, j int) {
	h.a[i], h.a[j] = h.a[j], h.a[i]
	h.setIdx(h.a[i], i)
	h.setIdx(h.a[j], j)
}

func (h *memHeap) push(e *memEntry) {
	h.a = append(h.a, e)
	h.setIdx(e, len(h.a)-1)
	h.up(len(h.a) - 1)
}

func (h *memHeap) remove(i int) {
	n := len(h.a) - 1
	if i != n {
		h.swap(i, n)
	}
	h.a[n] = nil
	h.a = h.a[:n]
	if i != n {
		h.fix(i)
	}
	if cap(h.a) > 64 && len(h.a) < cap(h.a)/4 { // give memory back after a burst
		h.a = append(make([]*memEntry, 0, cap(h.a)/2), h.a...)
	}
}

func (h *memHeap) fix(i int) {
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
