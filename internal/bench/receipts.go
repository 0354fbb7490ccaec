package bench

import (
	"strconv"
	"strings"
	"sync"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// Lifecycle of one message id in the tracker.
const (
	awaiting = iota + 1 // accepted, no receipt yet
	matched             // accepted and its receipt arrived
	early               // a receipt arrived before (or without) the acceptance
)

// trackerShards spreads the ids over several locks because receipts and
// responses arrive on every session's reader goroutine at once.
const trackerShards = 32

// tracker matches receipts to accepted message ids. Ids in the gateway's
// format (16 hex digits) are kept as a uint64, so a million pending ids
// cost tens of megabytes; anything else falls back to a string key.
type tracker struct {
	shards [trackerShards]trackerShard
}

type trackerShard struct {
	mu      sync.Mutex
	byNum   map[uint64]uint8
	byStr   map[string]uint8
	counted receiptCounts
}

// receiptCounts are the tracker's totals; missing and unmatched are
// derived at the end from what is still awaiting or early.
type receiptCounts struct {
	accepted, received, matched, duplicates int64
}

func newTracker() *tracker {
	t := &tracker{}
	for i := range t.shards {
		t.shards[i].byNum = make(map[uint64]uint8)
		t.shards[i].byStr = make(map[string]uint8)
	}
	return t
}

// key parses a 16-hex-digit id; ok is false for any other shape.
func key(id string) (uint64, bool) {
	if len(id) != 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(id, 16, 64)
	return n, err == nil
}

func (t *tracker) shard(id string) (*trackerShard, uint64, bool) {
	n, ok := key(id)
	h := n
	if !ok {
		h = 0
		for i := 0; i < len(id); i++ {
			h = h*31 + uint64(id[i])
		}
	}
	return &t.shards[h%trackerShards], n, ok
}

func (s *trackerShard) get(n uint64, id string, numeric bool) uint8 {
	if numeric {
		return s.byNum[n]
	}
	return s.byStr[id]
}

func (s *trackerShard) set(n uint64, id string, numeric bool, st uint8) {
	if numeric {
		s.byNum[n] = st
		return
	}
	s.byStr[id] = st
}

// accepted records a submit_sm_resp ESME_ROK with id.
func (t *tracker) accepted(id string) {
	s, n, numeric := t.shard(id)
	s.mu.Lock()
	s.counted.accepted++
	if s.get(n, id, numeric) == early {
		s.counted.matched++
		s.set(n, id, numeric, matched)
	} else {
		// A repeated id would be the SMSC's bug; it then awaits one receipt.
		s.set(n, id, numeric, awaiting)
	}
	s.mu.Unlock()
}

// receipt records a deliver_sm carrying id.
func (t *tracker) receipt(id string) {
	s, n, numeric := t.shard(id)
	s.mu.Lock()
	s.counted.received++
	switch s.get(n, id, numeric) {
	case awaiting:
		s.counted.matched++
		s.set(n, id, numeric, matched)
	case 0:
		// Another session's reader may see the receipt before this
		// message's own response is read; it is settled when that comes.
		s.set(n, id, numeric, early)
	default:
		s.counted.duplicates++
	}
	s.mu.Unlock()
}

// ReceiptStats is the outcome of receipt matching.
type ReceiptStats struct {
	Received   int64 `json:"received"`
	Matched    int64 `json:"matched"`
	Unmatched  int64 `json:"unmatched"`  // receipts for ids never accepted
	Duplicates int64 `json:"duplicates"` // further receipts for an id already seen
	Missing    int64 `json:"missing"`    // accepted ids without a receipt
}

// stats sums the shards; missing and unmatched count ids still awaiting
// a receipt or a response.
func (t *tracker) stats() ReceiptStats {
	var r ReceiptStats
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		r.Received += s.counted.received
		r.Matched += s.counted.matched
		r.Duplicates += s.counted.duplicates
		for _, st := range s.byNum {
			countOpen(&r, st)
		}
		for _, st := range s.byStr {
			countOpen(&r, st)
		}
		s.mu.Unlock()
	}
	return r
}

func countOpen(r *ReceiptStats, st uint8) {
	switch st {
	case awaiting:
		r.Missing++
	case early:
		r.Unmatched++
	}
}

// outstanding is the number of accepted ids still waiting for a receipt,
// cheap enough to poll: accepted − matched over the shards.
func (t *tracker) outstanding() int64 {
	var n int64
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += s.counted.accepted - s.counted.matched
		s.mu.Unlock()
	}
	return n
}

// receiptID is the receipted_message_id TLV, or the id: field of the
// receipt text when the TLV is absent.
func receiptID(d *pdu.DeliverSM) string {
	if id, ok := d.TLVs.CString(pdu.TagReceiptedMessageID); ok && id != "" {
		return id
	}
	for _, f := range strings.Fields(d.ShortMessage) {
		if v, ok := strings.CutPrefix(f, "id:"); ok {
			return v
		}
	}
	return ""
}
