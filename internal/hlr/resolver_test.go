package hlr_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

const testRules = `
prefixes:
  - prefix: "447700900"
    class: invalid
    reason: test_range
    err: "001"
  - prefix: "4477009001"
    class: valid
  - prefix: "44"
    class: invalid
accounts:
  alice:
    deny: ["4474"]
    allow: ["447400999"]
  bob:
    allow: ["4474"]
`

func TestRulesMatch(t *testing.T) {
	r, err := hlr.ParseRules([]byte(testRules), hlr.DefaultErrCodes())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		account, msisdn string
		match           bool
		class           hlr.Class
		reason, err     string
	}{
		{"", "447700900223", true, hlr.ClassInvalid, "test_range", "001"},
		{"", "447700900199", true, hlr.ClassValid, "rule", ""}, // the longest prefix wins
		{"", "447400123456", true, hlr.ClassInvalid, "rule", "000"},
		{"alice", "447400123456", true, hlr.ClassValid, hlr.ReasonRuleDeny, ""}, // deny before allow
		{"alice", "447400999000", true, hlr.ClassValid, hlr.ReasonRuleDeny, ""},
		{"bob", "447400123456", true, hlr.ClassInvalid, hlr.ReasonRuleAllow, "000"},
		{"carol", "4915112345678", false, 0, "", ""},
	}
	for _, tt := range tests {
		res, ok := r.Match(tt.account, tt.msisdn, "000")
		if ok != tt.match || res.Class != tt.class || res.Reason != tt.reason || res.ErrCode != tt.err {
			t.Errorf("Match(%q, %s) = %+v, %v; want %v %v %q %q", tt.account, tt.msisdn, res, ok, tt.match, tt.class, tt.reason, tt.err)
		}
		if ok && res.Source != hlr.SourceRule {
			t.Errorf("Match(%q, %s): source %v", tt.account, tt.msisdn, res.Source)
		}
	}
	if a := testing.AllocsPerRun(100, func() { r.Match("alice", "4915112345678", "000") }); a != 0 {
		t.Errorf("Match allocates %v times", a)
	}
}

func TestParseRulesErrors(t *testing.T) {
	for _, bad := range []string{
		"prefixes: [{prefix: \"+44\", class: invalid}]",
		"prefixes: [{prefix: \"44\", class: live}]",
		"prefixes: [{prefix: \"44\", class: invalid, err: \"1\"}]",
		"prefixes: [{prefix: \"44\", class: valid, err: \"001\"}]",
		"prefixes: [{prefix: \"44\", class: invalid, reason: \"Bad Reason\"}]",
		"prefixes: [{prefix: \"44\", class: invalid}, {prefix: \"44\", class: valid}]",
		"prefixs: []",
		"accounts: {alice: {deny: [\"4x\"]}}",
		"prefixes: []\n---\nprefixes: [{prefix: \"447\", class: valid}]\n", // one document only
	} {
		if _, err := hlr.ParseRules([]byte(bad), hlr.DefaultErrCodes()); err == nil {
			t.Errorf("ParseRules(%q) succeeded", bad)
		}
	}
	if r, err := hlr.ParseRules(nil, hlr.DefaultErrCodes()); err != nil || r.Len() != 0 {
		t.Errorf("an empty file: %v, %v", r, err)
	}
	for _, ok := range []string{"---\nprefixes: [{prefix: \"447\", class: valid}]\n", "prefixes: [{prefix: \"447\", class: valid}]\n...\n"} {
		if r, err := hlr.ParseRules([]byte(ok), hlr.DefaultErrCodes()); err != nil || r.Len() != 1 {
			t.Errorf("ParseRules(%q): %v, %v; want one rule", ok, r, err)
		}
	}
}

func TestRulesHolderReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("prefixes: [{prefix: \"44\", class: invalid}]")
	h, err := hlr.NewRulesHolder(path, hlr.DefaultErrCodes())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := h.Load().Match("", "4915112345678", "000"); ok {
		t.Fatal("49 matched before the reload")
	}
	write("prefixes: [{prefix: \"49\", class: invalid}]")
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.Load().Match("", "4915112345678", "000"); !ok {
		t.Fatal("49 not matched after the reload")
	}
	write("prefixes: [{prefix: \"x\"}]")
	if err := h.Reload(); err == nil {
		t.Fatal("a bad file reloaded")
	}
	if _, ok := h.Load().Match("", "4915112345678", "000"); !ok {
		t.Fatal("a failed reload dropped the rules in use")
	}
}

// TestResolverAvoidsBilledLookups: every way of answering without the
// provider is counted under its own label, and each spelling of a number
// reaches the chain as the same E.164 number.
func TestResolverAvoidsBilledLookups(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := hlr.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var asked []string
	p := &fakeProvider{fn: func(_ context.Context, msisdn string) (hlr.Result, error) {
		mu.Lock()
		asked = append(asked, msisdn)
		mu.Unlock()
		return validResult(), nil
	}}
	chain := newChain(t, p, hlr.ChainOptions{Memory: newMemory(t), TTL: time.Hour, Metrics: m})
	rules, err := hlr.ParseRules([]byte(testRules), hlr.DefaultErrCodes())
	if err != nil {
		t.Fatal(err)
	}
	holder := &hlr.RulesHolder{}
	holder.Replace(rules)
	r := hlr.NewResolver(chain, hlr.ResolverOptions{
		AccountRegions: map[string]string{"alice": "GB", "dieter": "DE"}, Rules: holder, Metrics: m,
	})
	ctx := context.Background()
	for _, d := range []hlr.Destination{
		{Account: "dieter", Addr: "015112345678", TON: 2},
		{Account: "dieter", Addr: "+49 1511 2345678", TON: 0},
		{Account: "dieter", Addr: "004915112345678", TON: 0},
		{Account: "dieter", Addr: "4915112345678", TON: 1},
	} {
		msisdn, res, err := r.Resolve(ctx, d)
		if err != nil || msisdn != "4915112345678" || !res.Valid() {
			t.Fatalf("Resolve(%+v) = %s, %+v, %v", d, msisdn, res, err)
		}
	}
	if len(asked) != 1 || asked[0] != "4915112345678" {
		t.Fatalf("provider asked %v, want once for 4915112345678", asked)
	}
	for _, tc := range []struct {
		d      hlr.Destination
		source hlr.Source
	}{
		{hlr.Destination{Account: "dieter", Addr: "01511234567", TON: 2}, hlr.SourcePrecheck},
		{hlr.Destination{Account: "alice", Addr: "07400123456", TON: 2}, hlr.SourceRule},
		{hlr.Destination{Account: "alice", Addr: "SENDER", TON: 5}, hlr.SourceNotANumber},
		{hlr.Destination{Account: "nobody", Addr: "1511234567", TON: 1}, hlr.SourceProvider}, // no region: no precheck
	} {
		_, res, err := r.Resolve(ctx, tc.d)
		if err != nil || res.Source != tc.source {
			t.Errorf("Resolve(%+v) = %+v, %v; want source %v", tc.d, res, err, tc.source)
		}
	}
	for by, want := range map[string]float64{"memory": 3, "redis": 0, "coalesced": 0, "precheck": 1, "rule": 1, "not_a_number": 1} {
		if got := metricValue(t, reg, "hlr_lookups_avoided_total", map[string]string{"by": by}); got != want {
			t.Errorf("hlr_lookups_avoided_total{by=%q} = %v, want %v", by, got, want)
		}
	}
	if got := metricValue(t, reg, "hlr_requests_total", map[string]string{"result": "valid"}); got != 2 {
		t.Errorf("hlr_requests_total{result=valid} = %v, want 2", got)
	}
}
