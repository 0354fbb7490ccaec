package dlr

import "math/bits"

// memIndex finds the entry of a canonical message id: 256 open-addressing
// hash tables (linear probing, deletion by backward shift), chosen by the
// top 8 bits of the id's key, of 8-octet slots, each the entry's number
// and the id's 32-bit key (memIndexKey). The id itself stays in the entry.
// A Go map[uint64]uint32 costs about 38 octets per id at a million; this
// costs 8 to 16 (each table is kept between 3/16 and 3/4 full). A table
// grows or shrinks by rehashing from its slots alone, without reading the
// entries; splitting the index into 256 tables keeps each such pause
// short (a table holds about 4,000 ids at a million: tens of
// microseconds) where one table growing to two million slots took about
// 10 ms, under the queue's lock.
//
// Eight consecutive ids share a home group of eight slots, one cache line:
// the gateway makes its ids in order, and stores, acknowledges and forgets
// them in nearly that order, so each of those three streams reads a new
// line of the index once per eight ids instead of once per id (with every
// id hashed on its own, the slots' cache misses were most of the queue's
// cost under load).
type memIndex struct {
	tabs [memIndexTables]memTable
	n    int
}

const memIndexTables = 256

// memIndexGroup is how many consecutive ids share a home group: a cache
// line of slots.
const memIndexGroup = 8

// memIndexKey is the 32 bits of id a slot keeps: the Fibonacci hash of
// the id's group (id / memIndexGroup), which picks the table and the home
// group, with the id's place in the group in the low bits, which picks
// the slot within it. Ids of one group differ in their keys, so a probe
// reads an entry only when its key matches.
func memIndexKey(id uint64) uint32 {
	h := uint32(((id / memIndexGroup) * 0x9E3779B97F4A7C15) >> 32)
	return h&^(memIndexGroup-1) | uint32(id%memIndexGroup)
}

func (x *memIndex) tab(k uint32) *memTable { return &x.tabs[k>>24] }

func (x *memIndex) get(id uint64, s *memStore) (memRef, bool) {
	k := memIndexKey(id)
	return x.tab(k).get(id, k, s)
}

// memSlot is where lookup found an id, or where it would go.
type memSlot struct {
	t *memTable
	i int
	k uint32
}

// lookup returns the entry of id and true, or the slot for putAt and
// false: storing a new id then costs one probe, not two.
func (x *memIndex) lookup(id uint64, s *memStore) (memRef, memSlot, bool) {
	k := memIndexKey(id)
	t := x.tab(k)
	i, ok := t.find(id, k, s)
	if ok {
		return memRef(uint32(t.slots[i]) - 1), memSlot{}, true
	}
	return 0, memSlot{t: t, i: i, k: k}, false
}

// putAt adds the id lookup did not find, for entry ref, at the slot it
// returned. Nothing may change the index in between.
func (x *memIndex) putAt(sl memSlot, ref memRef) {
	sl.t.putAt(sl.i, sl.k, ref)
	x.n++
}

// put adds id (not in the index) for entry ref.
func (x *memIndex) put(id uint64, ref memRef, s *memStore) {
	k := memIndexKey(id)
	x.tab(k).put(id, k, ref, s)
	x.n++
}

// remove takes id out of the index.
func (x *memIndex) remove(id uint64, s *memStore) {
	k := memIndexKey(id)
	if x.tab(k).remove(id, k, s) {
		x.n--
	}
}

func (x *memIndex) len() int { return x.n }

// memTable is one table of a memIndex.
type memTable struct {
	slots []uint64 // 0: empty; else key<<32 | ref+1
	n     int
	shift uint // 64 - log2(len(slots))
}

const memIndexMinBits = 4

func (x *memTable) init(logSize uint) {
	x.slots = make([]uint64, 1<<logSize)
	x.shift = 64 - logSize
}

// home is the slot where key k's probe run starts: in the group named by
// the key's bits below those that chose the table, the slot of the id's
// place in its group. (A table has at least 16 slots, two groups; below
// 2^21 slots the group's bits and the place's do not overlap.)
func (x *memTable) home(k uint32) int {
	return int(uint64(k<<8)<<32>>x.shift)&^(memIndexGroup-1) | int(k%memIndexGroup)
}

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
	x.putAt(i, h, ref)
}

// putAt fills the empty slot i, which find returned for key h.
func (x *memTable) putAt(i int, h uint32, ref memRef) {
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
