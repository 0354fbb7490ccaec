package app

import (
	"fmt"

	"github.com/smpp-hlr-gateway/gateway/internal/config"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

// EventRulesUnknownAccount is the WARNING logged for each line of
// RulesFileWarnings: by serve at start and by every reload.
const EventRulesUnknownAccount = "config.rules_file.unknown_account"

// RulesFileWarnings names the accounts that rules (read from file, the
// HLR_RULES_FILE) has lists for but accounts does not know: a misspelt
// system_id there applies to no one, silently.
func RulesFileWarnings(file string, rules *hlr.Rules, accounts []config.Account) []string {
	known := make(map[string]bool, len(accounts))
	for _, a := range accounts {
		known[a.SystemID] = true
	}
	var out []string
	for _, a := range rules.Accounts() {
		if !known[a] {
			out = append(out, fmt.Sprintf("HLR_RULES_FILE %s has lists for account %q, which is not configured: they apply to no one", file, a))
		}
	}
	return out
}
