package main

import (
	"strings"
	"sync"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// receipt is a delivery receipt as a client sees it.
type receipt struct {
	ID   string // receipted_message_id, or the text's id: field
	Text string
	Src  string // deliver_sm source_addr: the original destination
	Dst  string
	TLVs pdu.TLVs
}

// collector matches incoming receipts to message ids.
type collector struct {
	answer  pdu.Status // the deliver_sm_resp status (ESME_ROK by default)
	mu      sync.Mutex
	got     map[string]receipt
	waiting map[string]chan receipt
}

func newCollector() *collector {
	return &collector{got: map[string]receipt{}, waiting: map[string]chan receipt{}}
}

// onDeliver is the client's deliver_sm handler.
func (c *collector) onDeliver(d *pdu.DeliverSM) pdu.Status {
	r := receipt{Text: d.ShortMessage, Src: d.Source.Addr, Dst: d.Dest.Addr, TLVs: d.TLVs}
	r.ID, _ = d.TLVs.CString(pdu.TagReceiptedMessageID)
	if r.ID == "" {
		r.ID = receiptTextField(d.ShortMessage, "id")
	}
	c.mu.Lock()
	c.got[r.ID] = r
	ch := c.waiting[r.ID]
	delete(c.waiting, r.ID)
	c.mu.Unlock()
	if ch != nil {
		ch <- r
	}
	return c.answer
}

// expect returns a channel that yields the receipt for id.
func (c *collector) expect(id string) <-chan receipt {
	ch := make(chan receipt, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.got[id]; ok {
		ch <- r
		return ch
	}
	c.waiting[id] = ch
	return ch
}

// receiptTextField extracts a field such as "err" from receipt text.
func receiptTextField(text, name string) string {
	for _, f := range strings.Fields(text) {
		if v, ok := strings.CutPrefix(f, name+":"); ok {
			return v
		}
	}
	return ""
}
