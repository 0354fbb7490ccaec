package config

import (
	"strings"
	"testing"
)

func TestAccountDefaultRegion(t *testing.T) {
	path := writeFile(t, "accounts.yaml", "accounts:\n  - system_id: alice\n    password: pw\n    default_region: gb\n  - system_id: bob\n    password: pw\n")
	c, err := Load(env("SMPP_ACCOUNTS_FILE", path))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Accounts(); got[0].DefaultRegion != "GB" || got[1].DefaultRegion != "" {
		t.Fatalf("regions %q, %q; want GB and none", got[0].DefaultRegion, got[1].DefaultRegion)
	}
	bad := writeFile(t, "bad.yaml", "accounts:\n  - system_id: alice\n    password: pw\n    default_region: UK\n")
	if _, err := Load(env("SMPP_ACCOUNTS_FILE", bad)); err == nil || !strings.Contains(err.Error(), "default_region") {
		t.Fatalf("region UK: error %v, want one about default_region", err)
	}
}
