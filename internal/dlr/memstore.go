package dlr

// memEntry is one receipt of a MemoryQueue in 64 octets and no pointer, so
// the garbage collector never scans the million of them: it is pending
// (memPending), remembered (its final outcome kept for Lookup) or free.
// What does not fit (an id of another form, long addresses, a text the
// intern table has no room for) is kept aside in a memSpill.
type memEntry struct {
	id    uint64 // canonical message id (memSpilledID: see memSpill); free: next free ref
	sub   int64  // SubmittedAt, Unix nanoseconds (0: zero time)
	exp   int64  // pending: ExpiresAt (noExpiry: never); remembered: the outcome's At
	pos   int32  // pending: heap index or lane sequence number (memDue); remembered: ring slot
	acct  uint32 // account number (memAccounts), 0 for none
	ton   [4]uint8
	err   uint8  // intern code of Err
	rsn   uint8  // intern code of Reason
	tries uint16 // Attempts, saturating
	state uint8  // remembered: the outcome's pdu.MessageState
	flags uint8
	addrs [memAddrsLen]byte // source and destination, packed (packAddrs)
}

const (
	memPending     = 1 << iota // in its account's due order (memDue)
	memRemembered              // finished; kept for Lookup while in the ring
	memSpilledID               // the id is in memSpill
	memSpilledAddr             // the addresses are in memSpill
	memSpilledText             // err and reason are in memSpill
)

// memSpill holds the parts of a receipt that the compact entry has no room
// for. Receipts of the gateway itself never need one; ids of other forms
// (tests, other callers) and unusually long addresses do.
type memSpill struct {
	id          string
	src, dst    string
	err, reason string
}

// memRef numbers an entry in a memStore.
type memRef = uint32

// memNoRef names no entry (an emptied ring slot).
const memNoRef memRef = 1<<32 - 1

const (
	memChunkBits = 12
	memChunkLen  = 1 << memChunkBits // entries per chunk: 256 KiB
)

// memStore allocates entries in fixed chunks, so growing never copies the
// entries already there (a slice doubling to a million 64-octet entries
// would briefly hold both copies), and freed entries are reused.
type memStore struct {
	chunks [][]memEntry
	used   uint32 // entries handed out since the store began; next fresh ref
	free   uint32 // first free ref + 1 (0: none); linked through id
	live   int    // entries handed out and not released
}

func (s *memStore) at(r memRef) *memEntry {
	return &s.chunks[r>>memChunkBits][r&(memChunkLen-1)]
}

// alloc returns a zeroed entry.
func (s *memStore) alloc() memRef {
	s.live++
	if s.free != 0 {
		r := s.free - 1
		e := s.at(r)
		s.free = uint32(e.id)
		*e = memEntry{}
		return r
	}
	r := s.used
	if int(r>>memChunkBits) == len(s.chunks) {
		s.chunks = append(s.chunks, make([]memEntry, memChunkLen))
	}
	s.used++
	return r
}

func (s *memStore) release(r memRef) {
	e := s.at(r)
	*e = memEntry{id: uint64(s.free)}
	s.free = r + 1
	s.live--
}

// sparse reports whether most of the store's entries are free: after a
// burst of pending receipts was delivered and forgotten.
func (s *memStore) sparse() bool {
	return s.used > 4*memChunkLen && s.live < int(s.used/4)
}
