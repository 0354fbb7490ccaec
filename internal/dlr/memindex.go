package dlr

import "math/bits"

// memIndex finds the entry of a canonical message id: 256 open-addressing
// hash tables (linear probing, deletion by backward shift), chosen by the
// top 8 bits of the id's hash, of 8-octet slots, each the entry's number
// and 32 bits of the id's hash. The id itself stays in the entry. A Go
// map[uint64]uint32 costs about 38 octets per id at a million; this costs
// 8 to 16 (each table is kept between 3/16 and 3/4 full). A table grows or
// shrinks by rehashing from its slots alone, without reading the entries;
// splitting the index into 256 tables keeps each such pause short (a
// table holds about 4,000 ids at a million: tens of microseconds) where
// one table growing to two million slots took about 10 ms, under the
// queue's lock.
type memIndex struct {
	tabs [memIndexTables]memTable
	n    int
}

const memIndexTables = 256

func memIndexHash(id uint64) uint32 {
	// Fibonacci hashing; the gateway's ids differ mostly in their low bits.
	return uint32((id * 0x9E3779B97F4A7C15) >> 32)
}

func (x *memIndex) tab(h uint32) *memTable { return &x.tabs[h>>24] }

func (x *memIndex) get(id uint64, s *memStore) (memRef, bool) {
	h := memIndexHash(id)
	return x.tab(h).get(id, h, s)
}

// put adds id (not in the index) for entry ref.
func (x *memIndex) put(id uint64, ref memRef, s *memStore) {
	h := memIndexHash(id)
	x.tab(h).put(id, h, ref, s)
	x.n++
}

// remove takes id out of the index.
func (x *memIndex) remove(id uint64, s *memStore) {
	h := memIndexHash(id)
	if x.tab(h).remove(id, h, s) {
		x.n--
	}
}

func (x *memIndex) len() int { return x.n }

// memTable is one table of a memIndex.
type memTable struct {
	slots []uint64 // 0: empty; else hash32<<32 | ref+1
	n     int
	shift uint // 64 - log2(len(slots))
}

const memIndexMinBits = 4

func (x *memTable) init(logSize uint) {
	x.slots = make([]uint64, 1<<logSize)
	x.shift = 64 - logSize
}

// home is the slot where hash h's probe run starts: the hash bits below
// those that chose the table.
func (x *memTable) home(h uint32) int { return int(uint64(h<<8) << 32 >> x.shift) }

// find returns the slot of id and whether it holds it; when it does not,
// the slot is where id would go.
func (x *memTable) find(id uint64, h uint32, s *memStore) (int, bool) {
	if x.slots == nil {
		x.init(memIndexMinBits)
	}
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

func (x *memTable) get(id uint64, h uint32, s *memStore) (memRef, bool) {
	i, ok := x.find(id, h, s)
	if !ok {
		return 0, false
	}
	return memRef(uint32(x.slots[i]) - 1), true
}

func (x *memTable) put(id uint64, h uint32, ref memRef, s *memStore) {
	i, _ := x.find(id, h, s)
	x.slots[i] = uint64(h)<<32 | uint64(ref+1)
	x.n++
	if x.n*4 > len(x.slots)*3 {
		x.resize(len(x.slots) * 2)
	}
}

func (x *memTable) remove(id uint64, h uint32, s *memStore) bool {
	i, ok := x.find(id, h, s)
	if !ok {
		return false
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
	return true
}

func (x *memTable) resize(size int) {
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
