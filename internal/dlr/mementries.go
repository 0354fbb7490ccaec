package dlr

import (
	"strings"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// The MemoryQueue's work on single entries: indexing by id, converting a
// Receipt to and from its compact entry, and the end of a receipt. All
// methods need q.mu held.

// findLocked returns the entry of message id.
func (q *MemoryQueue) findLocked(id string) (memRef, bool) {
	if v, ok := parseCanonicalID(id); ok {
		return q.byID.get(v, &q.store)
	}
	ref, found := q.byOther[id]
	return ref, found
}

// findOrAddLocked returns the entry of message id and true, or a new
// empty entry for it and false: one probe of the id index either way.
func (q *MemoryQueue) findOrAddLocked(id string) (memRef, bool) {
	v, ok := parseCanonicalID(id)
	if !ok {
		if ref, found := q.byOther[id]; found {
			return ref, true
		}
		return q.newOtherEntryLocked(id), false
	}
	ref, slot, found := q.byID.lookup(v, &q.store)
	if found {
		return ref, true
	}
	ref = q.store.alloc()
	q.store.at(ref).id = v
	q.byID.putAt(slot, ref)
	return ref, false
}

// newOtherEntryLocked adds an empty entry for message id, not of the
// canonical form, to byOther.
func (q *MemoryQueue) newOtherEntryLocked(id string) memRef {
	ref := q.store.alloc()
	id = strings.Clone(id)
	q.spillLocked(ref).id = id
	q.store.at(ref).flags |= memSpilledID
	q.byOther[id] = ref
	return ref
}

// spillLocked returns the spill record of ref, adding one.
func (q *MemoryQueue) spillLocked(ref memRef) *memSpill {
	sp := q.spill[ref]
	if sp == nil {
		sp = new(memSpill)
		q.spill[ref] = sp
	}
	return sp
}

// trimSpillLocked drops what ref's spill record holds that its flags no
// longer use, and the record once it holds nothing.
func (q *MemoryQueue) trimSpillLocked(ref memRef) {
	sp := q.spill[ref]
	if sp == nil {
		return
	}
	f := q.store.at(ref).flags
	if f&memSpilledAddr == 0 {
		sp.src, sp.dst = "", ""
	}
	if f&memSpilledText == 0 {
		sp.err, sp.reason = "", ""
	}
	if f&memSpilledID == 0 && *sp == (memSpill{}) {
		delete(q.spill, ref)
	}
}

// setAccountLocked makes ref's entry name account sys.
func (q *MemoryQueue) setAccountLocked(ref memRef, sys string) {
	e := q.store.at(ref)
	if q.accts.name(e.acct) == sys {
		return
	}
	old := e.acct
	e.acct = q.accts.ref(sys, &q.store)
	q.accts.unref(old)
}

// encodeLocked writes r's content (all but its id, system id and due time)
// into ref's entry.
func (q *MemoryQueue) encodeLocked(ref memRef, r Receipt) {
	e := q.store.at(ref)
	e.sub = unixNano(r.SubmittedAt)
	e.exp = expiryNanos(r.ExpiresAt)
	q.minExp = min(q.minExp, e.exp)
	e.ton = [4]uint8{r.Source.TON, r.Source.NPI, r.Dest.TON, r.Dest.NPI}
	e.tries = saturatingAttempts(r.Attempts)
	e.flags &^= memSpilledAddr | memSpilledText
	q.setAddrsLocked(ref, r.Source.Addr, r.Dest.Addr)
	ec, eok := q.texts.code(r.Err)
	rc, rok := q.texts.code(r.Reason)
	if eok && rok {
		e.err, e.rsn = ec, rc
	} else {
		e.err, e.rsn = 0, 0
		e.flags |= memSpilledText
		sp := q.spillLocked(ref)
		sp.err, sp.reason = strings.Clone(r.Err), strings.Clone(r.Reason)
	}
	q.trimSpillLocked(ref)
}

// setAddrsLocked keeps both addresses in ref's entry, or aside when they
// do not fit. The caller trims the spill record.
func (q *MemoryQueue) setAddrsLocked(ref memRef, src, dst string) {
	e := q.store.at(ref)
	if packAddrs(&e.addrs, src, dst) {
		e.flags &^= memSpilledAddr
		return
	}
	e.addrs = [memAddrsLen]byte{}
	e.flags |= memSpilledAddr
	sp := q.spillLocked(ref)
	both := src + dst // one copy of both, not the caller's buffers
	sp.src, sp.dst = both[:len(src)], both[len(src):]
}

// decodeLocked rebuilds the receipt of pending entry ref, due at due. Its
// id and addresses share one new string.
func (q *MemoryQueue) decodeLocked(ref memRef, due int64) Receipt {
	var buf [16 + 2*addrMaxCount]byte
	r, b, l := q.decodeIntoLocked(ref, due, buf[:0])
	r.setTexts(string(b), l)
	return r
}

// textLens are the lengths of a decoded receipt's id and addresses in the
// text decodeIntoLocked appended; -1: the receipt has that field already
// (kept aside in a memSpill).
type textLens struct{ id, src, dst int32 }

// decodeIntoLocked rebuilds the receipt of pending entry ref, due at due,
// but for the id and addresses of the compact form, which it appends to b
// for setTexts: a batch of receipts can share one string.
func (q *MemoryQueue) decodeIntoLocked(ref memRef, due int64, b []byte) (Receipt, []byte, textLens) {
	e := q.store.at(ref)
	sp := q.spill[ref]
	r := Receipt{
		SystemID:    q.accts.name(e.acct),
		Source:      pdu.Address{TON: e.ton[0], NPI: e.ton[1]},
		Dest:        pdu.Address{TON: e.ton[2], NPI: e.ton[3]},
		SubmittedAt: fromNanos(e.sub),
		DueAt:       fromNanos(due),
		ExpiresAt:   expiryFromNanos(e.exp),
		Attempts:    int(e.tries),
		memRef:      ref + 1,
	}
	if e.flags&memSpilledText != 0 {
		r.Err, r.Reason = sp.err, sp.reason
	} else {
		r.Err, r.Reason = q.texts.text(e.err), q.texts.text(e.rsn)
	}
	l := textLens{id: 16, src: -1, dst: -1}
	if e.flags&memSpilledID != 0 {
		r.MessageID, l.id = sp.id, -1
	} else {
		b = appendCanonicalID(b, e.id)
	}
	if e.flags&memSpilledAddr != 0 {
		r.Source.Addr, r.Dest.Addr = sp.src, sp.dst
		return r, b, l
	}
	start := len(b)
	b, srcLen := unpackAddrs(b, &e.addrs)
	l.src, l.dst = int32(srcLen), int32(len(b)-start-srcLen)
	return r, b, l
}

// setTexts cuts the receipt's id and addresses, as l says, from the start
// of s, and returns the rest of s.
func (r *Receipt) setTexts(s string, l textLens) string {
	if l.id >= 0 {
		r.MessageID, s = s[:l.id], s[l.id:]
	}
	if l.src >= 0 {
		r.Source.Addr, s = s[:l.src], s[l.src:]
		r.Dest.Addr, s = s[:l.dst], s[l.dst:]
	}
	return s
}

// destLocked returns the destination address of entry ref.
func (q *MemoryQueue) destLocked(ref memRef) string {
	_, dst := q.addrsLocked(ref)
	return dst
}

// addrsLocked returns the source and destination addresses of entry ref
// (the source is empty once the entry is finished).
func (q *MemoryQueue) addrsLocked(ref memRef) (src, dst string) {
	e := q.store.at(ref)
	if e.flags&memSpilledAddr != 0 {
		sp := q.spill[ref]
		return sp.src, sp.dst
	}
	return unpackAddrPair(&e.addrs)
}

// unlinkLocked takes a pending entry out of its account's due order.
func (q *MemoryQueue) unlinkLocked(ref memRef) {
	e := q.store.at(ref)
	q.accts.get(e.acct).due.remove(ref)
	e.flags &^= memPending
	q.pending--
}

// finishLocked ends receipt r with outcome o and remembers it for Lookup.
// Unknown ids are remembered too (an outcome another claimer reported).
func (q *MemoryQueue) finishLocked(r *Receipt, o Outcome) {
	if o.SystemID == "" {
		o.SystemID = r.SystemID
	}
	if ref, ok := q.claimedRefLocked(r); ok {
		q.finishRefLocked(ref, o)
		return
	}
	if q.finalCap == 0 {
		ref, ok := q.findLocked(r.MessageID)
		if ok {
			q.finishRefLocked(ref, o)
		}
		return
	}
	ref, _ := q.findOrAddLocked(r.MessageID)
	q.finishRefLocked(ref, o)
}

// claimedRefLocked returns the entry r's hint names (Receipt.memRef) when
// that entry is live and holds r's id: then it is the entry the id index
// would find, without the index's probe. An entry freed, reused for
// another id or renumbered by a compaction since the claim fails the test.
func (q *MemoryQueue) claimedRefLocked(r *Receipt) (memRef, bool) {
	if r.memRef == 0 || r.memRef > q.store.used {
		return 0, false
	}
	ref := r.memRef - 1
	e := q.store.at(ref)
	if e.flags&(memPending|memRemembered) == 0 || e.flags&memSpilledID != 0 {
		return 0, false
	}
	v, ok := parseCanonicalID(r.MessageID)
	return ref, ok && e.id == v
}

// finishRefLocked ends entry ref with outcome o. A remembered entry only
// takes the new state and time.
func (q *MemoryQueue) finishRefLocked(ref memRef, o Outcome) {
	e := q.store.at(ref)
	fresh := e.flags&(memPending|memRemembered) == 0 // new: never pending
	if e.flags&memPending != 0 {
		q.unlinkLocked(ref)
		if q.finalCap == 0 {
			q.dropLocked(ref)
			return
		}
	}
	if o.SystemID != "" {
		q.setAccountLocked(ref, o.SystemID)
	}
	e.state, e.exp = uint8(o.State), unixNano(o.At)
	if e.flags&memRemembered != 0 {
		return
	}
	if fresh || !o.SubmittedAt.IsZero() {
		e.sub = unixNano(o.SubmittedAt)
	}
	if dst := o.Destination; fresh || dst != "" {
		if dst == "" {
			dst = q.destLocked(ref)
		}
		q.setAddrsLocked(ref, "", dst)
	}
	// Only the id, account, destination and times are needed from now on.
	e.ton, e.err, e.rsn, e.tries = [4]uint8{}, 0, 0, 0
	e.flags = e.flags&^memSpilledText | memRemembered
	q.trimSpillLocked(ref)
	q.rememberLocked(ref)
}

// rememberLocked puts a finished entry in the ring, forgetting the oldest
// once the ring is full.
func (q *MemoryQueue) rememberLocked(ref memRef) {
	if len(q.finalRing) < q.finalCap {
		q.store.at(ref).pos = int32(len(q.finalRing))
		q.finalRing = append(q.finalRing, ref)
		return
	}
	slot := q.finalNext
	// The slot's entry is forgotten unless it moved on since: pending
	// again (Put of the same id), or remembered again in a later slot.
	if old := q.finalRing[slot]; old != ref && old != memNoRef {
		if oe := q.store.at(old); oe.flags&memRemembered != 0 && oe.pos == int32(slot) {
			q.dropLocked(old)
		}
	}
	q.finalRing[slot] = ref
	q.store.at(ref).pos = int32(slot)
	q.finalNext = (q.finalNext + 1) % q.finalCap
}

// dropLocked forgets entry ref: out of the id index, its account and the
// store.
func (q *MemoryQueue) dropLocked(ref memRef) {
	e := q.store.at(ref)
	if e.flags&memSpilledID != 0 {
		delete(q.byOther, q.spill[ref].id)
	} else {
		q.byID.remove(e.id, &q.store)
	}
	delete(q.spill, ref)
	q.accts.unref(e.acct)
	q.store.release(ref)
}

// compactIfSparseLocked compacts the store when most of it is free. It is
// called at the end of operations that forget entries, never in between:
// compacting renumbers every entry.
func (q *MemoryQueue) compactIfSparseLocked() {
	if q.store.sparse() {
		q.compactLocked()
	}
}

// compactLocked moves the entries in use into a new store, numbered from
// 0, so the chunks a burst needed go back to the garbage collector. Every
// entry in use is pending (its heap or lane slot names it) or remembered
// (its ring slot does). Ring slots that name an entry which moved on since (stale,
// see rememberLocked) would name an arbitrary entry, or none, under the
// new numbers: they are emptied.
func (q *MemoryQueue) compactLocked() {
	old := q.store
	q.store = memStore{}
	q.byID = memIndex{}
	spill := make(map[memRef]*memSpill, len(q.spill))
	for i := range q.finalRing {
		q.finalRing[i] = memNoRef
	}
	for r := memRef(0); r < old.used; r++ {
		e := old.at(r)
		if e.flags&(memPending|memRemembered) == 0 {
			continue
		}
		nr := q.store.alloc()
		*q.store.at(nr) = *e
		if sp := q.spill[r]; sp != nil {
			spill[nr] = sp
		}
		if e.flags&memSpilledID != 0 {
			q.byOther[q.spill[r].id] = nr
		} else {
			q.byID.put(e.id, nr, &q.store)
		}
		if e.flags&memPending != 0 {
			q.accts.get(e.acct).due.renumber(e, nr)
		} else {
			q.finalRing[e.pos] = nr
		}
	}
	q.spill = spill
}

func expiryNanos(t time.Time) int64 {
	if t.IsZero() {
		return noExpiry
	}
	return t.UnixNano()
}
