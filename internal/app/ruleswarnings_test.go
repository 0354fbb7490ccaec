package app_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestReloadWarnsOfRulesForUnknownAccounts: a reload warns, as serve
// does at start, of HLR_RULES_FILE lists for a system_id no account has
// (config.rules_file.unknown_account), whether the rules file or the
// accounts file changed; it used to warn only at start.
func TestReloadWarnsOfRulesForUnknownAccounts(t *testing.T) {
	tests := []struct {
		name, rules, accounts string
		unknown               []string // the accounts warned of
	}{
		{"rules for known accounts", "accounts:\n  alice:\n    deny: [\"44\"]\n",
			"accounts:\n  - {system_id: alice, password: a}\n", nil},
		{"a misspelt system_id in the rules", "accounts:\n  alice:\n    deny: [\"44\"]\n  alcie:\n    allow: [\"1\"]\n",
			"accounts:\n  - {system_id: alice, password: a}\n", []string{"alcie"}},
		{"an account removed, its rules kept", "accounts:\n  alice:\n    deny: [\"44\"]\n  bob:\n    deny: [\"44\"]\n",
			"accounts:\n  - {system_id: bob, password: b}\n", []string{"alice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			rules, accounts := filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "accounts.yaml")
			writeAccounts(t, rules, "prefixes: []\n")
			writeAccounts(t, accounts, "accounts:\n  - {system_id: alice, password: a}\n  - {system_id: bob, password: b}\n")
			gw := startGateway(t, newFakeTMT(t, nil), map[string]string{"HLR_RULES_FILE": rules, "SMPP_ACCOUNTS_FILE": accounts})
			writeAccounts(t, rules, tt.rules)
			writeAccounts(t, accounts, tt.accounts)
			if _, err := gw.app.Reload(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			var warned []string
			for line := range strings.Lines(gw.logs.String()) {
				if strings.Contains(line, `"event":"config.rules_file.unknown_account"`) {
					warned = append(warned, line)
				}
			}
			if len(warned) != len(tt.unknown) {
				t.Fatalf("warnings %q, want one for each of %q", warned, tt.unknown)
			}
			for i, id := range tt.unknown {
				if !strings.Contains(warned[i], `account \"`+id+`\", which is not configured`) || !strings.Contains(warned[i], rules) {
					t.Errorf("warning %q, want one naming %s and %s", warned[i], id, rules)
				}
			}
		})
	}
}
