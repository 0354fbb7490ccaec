package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

func smTo(dest pdu.Address) *pdu.SubmitSM {
	s := sm(dest.Addr, 1)
	s.Dest = dest
	return s
}

// TestSpellingsOfOneNumberCostOneLookup: international, prefixed and
// national spellings of one UK mobile (several TON/NPI) reach the HLR as
// one E.164 number, once.
func TestSpellingsOfOneNumberCostOneLookup(t *testing.T) {
	tmt := newFakeTMT(t, nil)
	gw := startGateway(t, tmt, map[string]string{"HLR_DEFAULT_REGION": "GB"})
	c := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
	for _, dest := range []pdu.Address{
		{TON: 1, NPI: 1, Addr: "447400123456"},
		{TON: 0, NPI: 0, Addr: "+44 7400 123456"},
		{TON: 0, NPI: 1, Addr: "00447400123456"},
		{TON: 2, NPI: 1, Addr: "07400123456"},
		{TON: 0, NPI: 0, Addr: "07400 123456"},
	} {
		if status, _ := c.submit(t, smTo(dest)); status != pdu.StatusInvDstAdr {
			t.Fatalf("%+v: %s, want ESME_RINVDSTADR (a live number)", dest, status)
		}
	}
	if got := tmt.requests.Load(); got != 1 {
		t.Fatalf("HLR requests = %d, want 1", got)
	}
	if !strings.Contains(gw.logs.String(), "/***/***/447400123456") {
		t.Fatal("the HLR was not asked for the E.164 number 447400123456")
	}
}

// TestPrecheckAnswersImpossibleNumbers: a national number that cannot
// exist in the account's region is invalid_number without a lookup, and
// the receipt reason says precheck.
func TestPrecheckAnswersImpossibleNumbers(t *testing.T) {
	tmt := newFakeTMT(t, nil)
	gw := startGateway(t, tmt, map[string]string{"HLR_DEFAULT_REGION": "DE"})
	c := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
	status, id := c.submit(t, smTo(pdu.Address{TON: 2, NPI: 1, Addr: "01511234567"}))
	if status != pdu.StatusOK {
		t.Fatalf("submit: %s, want ESME_ROK", status)
	}
	d := c.nextReceipt(t)
	if m := receiptText.FindStringSubmatch(d.ShortMessage); m == nil || m[1] != id || m[2] != "003" {
		t.Fatalf("receipt %q, want err 003 for %s", d.ShortMessage, id)
	}
	if got := tmt.requests.Load(); got != 0 {
		t.Fatalf("HLR requests = %d, want 0", got)
	}
	gw.logs.waitFor(t, `"reason":"precheck"`)
}

// TestAccountRulesAnswerWithoutLookup: the account's deny list rejects as
// if live, its allow list accepts, both without a billed lookup.
func TestAccountRulesAnswerWithoutLookup(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte("accounts:\n  testuser:\n    deny: [\"4474\"]\n    allow: [\"4915\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tmt := newFakeTMT(t, nil)
	gw := startGateway(t, tmt, map[string]string{"HLR_RULES_FILE": rules})
	c := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
	if status, _ := c.submit(t, sm("447400123456", 1)); status != pdu.StatusInvDstAdr {
		t.Fatalf("denied number: %s, want ESME_RINVDSTADR", status)
	}
	status, id := c.submit(t, sm("4915112345678", 1))
	if status != pdu.StatusOK {
		t.Fatalf("allowed number: %s, want ESME_ROK", status)
	}
	checkReceipt(t, c.nextReceipt(t), id, "4915112345678", "000")
	if got := tmt.requests.Load(); got != 0 {
		t.Fatalf("HLR requests = %d, want 0", got)
	}
}
