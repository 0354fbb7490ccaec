package app_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/app"
	"github.com/smpp-hlr-gateway/gateway/internal/config"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

// TestReloadNumbering: a reload applies new account regions and rules; a
// rules file that does not parse keeps the rules in use.
func TestReloadNumbering(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	write := func(s string) {
		if err := os.WriteFile(rules, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("accounts: {alice: {deny: [\"44\"]}}")
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"HLR_PROVIDER": "simulator", "HLR_RULES_FILE": rules}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := app.BuildResolver(cfg, &hlr.Chain{}, hlr.DefaultErrCodes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	alice := hlr.Destination{Account: "alice", Addr: "07400123456", TON: 2}
	source := func() hlr.Source {
		t.Helper()
		_, res, _ := r.Resolve(context.Background(), alice)
		return res.Source
	}
	// No region yet: the national digits are not a British number, so
	// the 44 deny rule does not match and the chain is asked.
	if got, err := r.Normalize(alice); err != nil || got != "07400123456" {
		t.Fatalf("before: %q, %v", got, err)
	}
	write("accounts: {alice: {deny: [\"4474\"]}}")
	if err := app.ReloadNumbering(r, []config.Account{{SystemID: "alice", DefaultRegion: "GB"}}); err != nil {
		t.Fatal(err)
	}
	if got := source(); got != hlr.SourceRule {
		t.Fatalf("after the reload: source %v, want rule", got)
	}
	write("accounts: {alice: {deny: [\"x\"]}}")
	if err := app.ReloadNumbering(r, []config.Account{{SystemID: "alice", DefaultRegion: "GB"}}); err == nil {
		t.Fatal("a bad rules file reloaded")
	}
	if got := source(); got != hlr.SourceRule {
		t.Fatalf("after a failed reload: source %v, want rule (the rules in use)", got)
	}
}
