package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestAccountsFromFile(t *testing.T) {
	path := writeFile(t, "accounts.yaml", `accounts:
  - system_id: alice
    password: pw-alice
    max_binds: 4
    throughput: 12.5
    allowed_networks: ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::ffff:127.0.0.1/128", "::ffff:198.51.100.0/120", "::ffff:203.0.113.9"]
  - system_id: bob
    password: pw-bob
`)
	c, err := Load(env("SMPP_ACCOUNTS_FILE", path))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := []Account{
		{SystemID: "alice", Password: "pw-alice", MaxBinds: 4, Throughput: 12.5, AllowedNetworks: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32"),
			// IPv4-mapped entries are the IPv4 networks they name.
			netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.9/32"),
		}},
		{SystemID: "bob", Password: "pw-bob"},
	}
	if got := c.Accounts(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Accounts() = %+v, want %+v", got, want)
	}
}

func TestDefaultAccount(t *testing.T) {
	c, err := Load(env("SMPP_SYSTEM_ID", "esme1", "SMPP_PASSWORD", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Account{{SystemID: "esme1", Password: "pw"}}
	if got := c.Accounts(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Accounts() = %+v, want %+v", got, want)
	}
}

func TestAccountsFileErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"empty", ``, "the file is empty"},
		{"no accounts", "accounts: []\n", "the file lists no accounts"},
		{"unknown key", "accounts:\n  - system_id: a\n    pasword: x\n", `unknown key "pasword"`},
		{"not yaml", "accounts: [\n", "yaml:"},
		// Only one document is read: the others used to be ignored.
		{"second document", "accounts:\n  - {system_id: a, password: p}\n---\naccounts:\n  - {system_id: b, password: q}\n",
			"the file holds more than one YAML document"},
		{"second document not yaml", "accounts:\n  - {system_id: a, password: p}\n---\nfoo: [\n", "the second does not parse either"},
		{"bad cidr", "accounts:\n  - {system_id: a, password: p, allowed_networks: [\"10.0.0.0/33\"]}\n",
			`accounts[0].allowed_networks: "10.0.0.0/33" is not a CIDR or an address`},
		{"long id", "accounts:\n  - {system_id: abcdefghijklmnop, password: p}\n",
			`accounts[0]: system_id "abcdefghijklmnop" is longer than 15 characters`},
		{"empty id", "accounts:\n  - {password: p}\n", `accounts[0]: system_id is empty`},
		{"long password", "accounts:\n  - {system_id: a, password: pw-alice9}\n",
			`accounts[0]: password of "a" is longer than 8 characters`},
		{"empty password", "accounts:\n  - {system_id: a}\n", `accounts[0]: password of "a" is empty`},
		{"duplicate", "accounts:\n  - {system_id: a, password: p}\n  - {system_id: a, password: q}\n",
			`accounts[1]: system_id "a" is already used by accounts[0]`},
		{"negative binds", "accounts:\n  - {system_id: a, password: p, max_binds: -1}\n", `max_binds of "a" is negative`},
		{"negative throughput", "accounts:\n  - {system_id: a, password: p, throughput: -1}\n", `throughput of "a" must be 0`},
		{"infinite throughput", "accounts:\n  - {system_id: a, password: p, throughput: .inf}\n", `throughput of "a" must be 0 (unlimited) or from 0.001 to 1e+06`},
		{"NaN throughput", "accounts:\n  - {system_id: a, password: p, throughput: .nan}\n", `throughput of "a" must be 0`},
		{"throughput beyond the shared limiter", "accounts:\n  - {system_id: a, password: p, throughput: 1e19}\n", `throughput of "a" must be 0`},
		{"throughput below a thousandth", "accounts:\n  - {system_id: a, password: p, throughput: 0.0001}\n", `throughput of "a" must be 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "accounts.yaml", tt.yaml)
			_, err := Load(env("SMPP_ACCOUNTS_FILE", path))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			// Every error names the file, the content rules' as the
			// syntax errors' do.
			if !strings.HasPrefix(err.Error(), "config: SMPP_ACCOUNTS_FILE: "+path+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not name the file or does not contain %q", err, tt.want)
			}
			assertFieldError(t, err)
		})
	}
}

func TestAccountAllows(t *testing.T) {
	acc := Account{AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	tests := []struct {
		acc  Account
		addr string
		want bool
	}{
		{acc, "10.1.2.3", true},
		{acc, "::ffff:10.1.2.3", true},
		{acc, "11.1.2.3", false},
		{acc, "::1", false},
		{Account{}, "203.0.113.9", true},
	}
	for _, tt := range tests {
		if got := tt.acc.Allows(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Allows(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}
