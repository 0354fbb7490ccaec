package bench

import (
	"math/bits"
	"time"
)

// The histogram is log-linear like HdrHistogram: values below 2^subBits
// are counted exactly, larger ones in 2^(subBits-1) linear steps per power
// of two, so every bucket is within 1/64 (≈1.6 %) of the values in it and
// the whole range of an int64 of nanoseconds fits in a fixed array.
const (
	subBits     = 7
	subCount    = 1 << subBits
	halfCount   = subCount / 2
	bucketCount = (64-subBits+1)*halfCount + halfCount
)

// histogram records latencies in bounded memory. It is not safe for
// concurrent use; each session owns one and Run merges them.
type histogram struct {
	counts   [bucketCount]uint64
	total    uint64
	sum      time.Duration
	min, max time.Duration
}

func bucketOf(v uint64) int {
	b := bits.Len64(v|(subCount-1)) - subBits
	return b*halfCount + int(v>>uint(b))
}

// highestIn is the largest value that falls into bucket i.
func highestIn(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	b := i/halfCount - 1
	sub := uint64(i - b*halfCount)
	return (sub+1)<<uint(b) - 1
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	if h.total == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.total++
	h.sum += d
}

func (h *histogram) merge(o *histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.total += o.total
	h.sum += o.sum
}

// quantile returns the value at q (0..1): the top of the bucket holding
// the ceil(q·total)-th value, clamped to the exact maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.999999)
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(highestIn(i)), h.max)
		}
	}
	return h.max
}

func (h *histogram) mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return h.sum / time.Duration(h.total)
}
