package dlr

import "math/bits"

// memIndex finds the entry of a canonical message id: an open-addressing
// hash table (linear probing, deletion by backward shift) of 8-octet
// slots, each the entry's number and 32 bits of the id's hash. The id
// itself stays in the entry. A Go map[uint64]uint32 costs about 38 octets
// per id at a million; this costs 8 to 16 (the table is kept between 3/16
// and 3/4 full). Growing rehashes from the slots alone, without reading
// the entries: a sequential pass over the table, a few milliseconds at a
// million ids.
type memIndex struct {
	slots []uint64 // 0: empty; else hash32<<32 | ref+1
	n     int
	shift uint // 64 - log2(len(slots))
}

const memIndexMinBits = 10

func (x *memIndex) init(logSize uint) {
	x.slots = make([]uint64, 1<<logSize)
	x.shift = 64 - logSize
}

func memIndexHash(id uint64) uint32 {
	// Fibonacci hashing; the gateway's ids differ mostly in their low bits.
	return uint32((id * 0x9E3779B97F4A7C15) >> 32)
}

func (x *memIndex) home(h uint32) int { return int(uint64(h) << 32 >> x.shift) }

// find returns the slot of id and whether it holds it; when it does not,
// the slot is where id would go.
func (x *memIndex) find(id uint64, s *memStore) (int, bool) {
	if x.slots == nil {
		x.init(memIndexMinBits)
	}
	h := memIndexHash(id)
	mask := len(x.slots) - 1
	for i := x.home(h); ; i = (i + 1) & mask {
		v := x.slots[i]
		if v == 0 {
			return i, false
		}
		if uint32(v>>32) == h && s.at(memRef(uint32(v)-1)).id == id {
			return i, true
		}
	}
}

func (x *memIndex) get(id uint64, s *memStore) (memRef, bool) {
	i, ok := x.find(id, s)
	if !ok {
		return 0, false
	}
	return memRef(uint32(x.slots[i]) - 1), true
}

// put adds id (not in the index) for entry ref.
func (x *memIndex) put(id uint64, ref memRef, s *memStore) {
	i, _ := x.find(id, s)
	x.slots[i] = uint64(memIndexHash(id))<<32 | uint64(ref+1)
	x.n++
	if x.n*4 > len(x.slots)*3 {
		x.resize(len(x.slots) * 2)
	}
}

// remove takes id out of the index.
func (x *memIndex) remove(id uint64, s *memStore) {
	i, ok := x.find(id, s)
	if !ok {
		return
	}
	mask := len(x.slots) - 1
	// Backward shift: move later slots of the probe run into the hole
	// unless their home lies cyclically within (hole, their slot].
	for j := (i + 1) & mask; x.slots[j] != 0; j = (j + 1) & mask {
		k := x.home(uint32(x.slots[j] >> 32))
		if (j > i && (k <= i || k > j)) || (j < i && k <= i && k > j) {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = 0
	x.n--
	if len(x.slots) > 1<<memIndexMinBits && x.n*16 < len(x.slots)*3 {
		x.resize(len(x.slots) / 2)
	}
}

func (x *memIndex) resize(size int) {
	old := x.slots
	x.init(uint(bits.TrailingZeros(uint(size))))
	mask := len(x.slots) - 1
	for _, v := range old {
		if v == 0 {
			continue
		}
		i := x.home(uint32(v >> 32))
		for x.slots[i] != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = v
	}
}

func (x *memIndex) len() int { return x.n }
