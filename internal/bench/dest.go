package bench

import "strconv"

// minSuffixWidth keeps destinations phone-number shaped: prefix 4099 with
// 1,000 distinct numbers gives 4099000000..4099000999.
const minSuffixWidth = 6

// suffixWidth is the number of digits appended to the prefix.
func suffixWidth(distinct int) int {
	return max(minSuffixWidth, len(strconv.Itoa(max(distinct-1, 0))))
}

// destinations yields the destination of message i: the prefix followed by
// i modulo distinct, zero-padded, so the numbers cycle through a fixed set
// (and a cache sees exactly distinct keys).
type destinations struct {
	prefix   string
	distinct uint64
	width    int
}

func newDestinations(prefix string, distinct int) destinations {
	return destinations{prefix: prefix, distinct: uint64(distinct), width: suffixWidth(distinct)}
}

// at appends the destination of message i to buf and returns it; the
// caller turns it into a string once.
func (d destinations) at(buf []byte, i uint64) []byte {
	buf = append(buf[:0], d.prefix...)
	var digits [20]byte
	n := strconv.AppendUint(digits[:0], i%d.distinct, 10)
	for range d.width - len(n) {
		buf = append(buf, '0')
	}
	return append(buf, n...)
}
