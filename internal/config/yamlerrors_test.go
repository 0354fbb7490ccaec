package config

import (
	"errors"
	"strings"
	"testing"
)

// TestAccountsFileErrorsReadForPeople: YAML mistakes are reported by line
// and key, without Go type names, "yaml:" or a second "config:".
func TestAccountsFileErrorsReadForPeople(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"list for a string", "accounts:\n  - system_id: [1, 2]\n", "line 2: system_id: want text, not a list"},
		{"text for a number", "accounts:\n  - system_id: a\n    max_binds: many\n", `line 3: max_binds: want a whole number, not text "many"`},
		{"unknown key", "accounts:\n  - system_id: a\n    nope: 1\n", `line 3: unknown key "nope" (known: ` + strings.Join(knownKeys("config.accountYAML"), ", ") + ")"},
		{"unknown top-level key", "acounts: []\n", `line 1: unknown key "acounts" (known: accounts)`},
		{"syntax", "accounts: [\n", "line 1: did not find expected node content"},
		{"key indented less than its item", "accounts:\n  - system_id: a\n    password: p\n   max_binds: 2\n",
			"line 4: did not find expected '-' indicator (is the line indented as the lines before it?)"},
		{"indentation broken after a multi-line list", "accounts:\n  - system_id: a\n    allowed_networks: [10.0.0.0/8,\n      192.168.0.0/16]\n    password: p\n   max_binds: 2\n",
			"line 6: did not find expected '-' indicator (is the line indented as the lines before it?)"},
		{"key indented more than its item", "accounts:\n  - system_id: a\n    password: p\n      max_binds: 2\n", "line 4: mapping values are not allowed in this context"},
		{"the parser's line kept when it is right", "accounts:\n  - system_id: a\n    password: p\n      max_binds: 2\n    throughput: 1\n", "line 4: mapping values are not allowed in this context"},
		{"a tab", "accounts:\n\t- system_id: a\n  - system_id: b\n", "line 2: found character that cannot start any token"},
		{"password value never shown", "accounts:\n  - system_id: a\n    password: [hunter2]\n", "line 3: password: want text, not a list"},
		{"fraction for max_binds", "accounts:\n  - system_id: a\n    max_binds: 2.9\n", `line 3: max_binds: want a whole number, not a number "2.9"`},
		{"fraction for max_pending_receipts", "accounts:\n  - system_id: a\n    max_pending_receipts: 1e3\n", `line 3: max_pending_receipts: want a whole number, not a number "1e3"`},
		{"empty allowed_networks", "accounts:\n  - system_id: a\n    allowed_networks: []\n", "line 3: allowed_networks: the list is empty: leave the key out to allow any address, or list the networks that may bind"},
		{"allowed_networks with every entry commented out", "accounts:\n  - system_id: a\n    allowed_networks:\n    #  - 10.0.0.0/8\n    password: p\n", "line 3: allowed_networks: the list is empty: leave the key out to allow any address, or list the networks that may bind"},
		{"allowed_networks: ~", "accounts:\n  - system_id: a\n    allowed_networks: ~\n", "line 3: allowed_networks: the list is empty: leave the key out to allow any address, or list the networks that may bind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "accounts.yaml", tt.yaml)
			_, err := ReadAccountsFile(path)
			if err == nil {
				t.Fatal("no error")
			}
			want := "config: SMPP_ACCOUNTS_FILE: " + path + ": " + tt.want
			if err.Error() != want {
				t.Fatalf("error\n%s\nwant\n%s", err, want)
			}
			detail := strings.TrimPrefix(err.Error(), "config: SMPP_ACCOUNTS_FILE: "+path+": ")
			for _, bad := range []string{"config", "yaml:", "!!", "hunter2"} {
				if strings.Contains(detail, bad) {
					t.Errorf("error contains %q", bad)
				}
			}
			if !errors.Is(err, ErrAccounts) || !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not match ErrAccounts and ErrInvalid")
			}
		})
	}
}
