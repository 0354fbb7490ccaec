package config

import (
	"strings"
	"testing"
)

func TestPrintMasksSecrets(t *testing.T) {
	path := writeFile(t, "accounts.yaml", "accounts:\n  - {system_id: alice, password: pw-alice, allowed_networks: [10.0.0.0/8]}\n")
	c, err := Load(env(
		"SMPP_PASSWORD", "ninechar",
		"HLR_API_KEY", "k3y-value",
		"HLR_API_SECRET", "s3cret-value",
		"REDIS_URL", "redis-sentinel://user:hunter2@s1:26379,s2:26379/0?master=m&sentinel_password=hunter3",
		"HLR_BASE_URL", "https://proxy:hunter4@hlr.example/live/json",
		"SMPP_ACCOUNTS_FILE", path,
	))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := c.Print(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, secret := range []string{"ninechar", "k3y-value", "s3cret-value", "hunter2", "hunter3", "hunter4", "pw-alice"} {
		if strings.Contains(out, secret) {
			t.Errorf("printed configuration contains %q:\n%s", secret, out)
		}
	}
	for _, line := range []string{
		"SMPP_PASSWORD=****\n",
		"HLR_API_KEY=****\n",
		"HLR_API_SECRET=****\n",
		"REDIS_URL=redis-sentinel://user:****@s1:26379,s2:26379/0?master=m&sentinel_password=****\n",
		"HLR_BASE_URL=https://proxy:****@hlr.example/live/json\n",
		"SMPP_PORT=2776\n",
		"SMPP_TLS_PORT=\n",
		"HLR_TIMEOUT_SECONDS=5\n",
		"# account system_id=alice password=**** max_binds=0 throughput=0 allowed_networks=10.0.0.0/8\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("printed configuration lacks %q:\n%s", line, out)
		}
	}
}

func TestRedactedEmptySecretsStayEmpty(t *testing.T) {
	c := Default()
	for _, kv := range c.Redacted() {
		if kv.Key == "HLR_API_KEY" && kv.Value != "" {
			t.Fatalf("unset HLR_API_KEY printed as %q", kv.Value)
		}
	}
}

// TestPrintSaysWhenTheTemporaryTTLIsCapped: a temporary lifetime above the
// permanent one is printed as given, with the lifetime in effect.
func TestPrintSaysWhenGCHeadroomIsNotApplied(t *testing.T) {
	const note = "# GC_HEADROOM_MB is not applied: GOGC or GOMEMLIMIT is set in the environment\n"
	for _, tt := range []struct {
		env  []string
		want bool
	}{
		{[]string{"GOGC", "200"}, true},
		{[]string{"GOMEMLIMIT", "1GiB"}, true},
		{[]string{"GOGC", "200", "GC_HEADROOM_MB", "0"}, false},
		{nil, false},
	} {
		c, err := Load(env(append([]string{"HLR_PROVIDER", "simulator"}, tt.env...)...))
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := c.Print(&b); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(b.String(), note); got != tt.want {
			t.Errorf("%v: note printed %v, want %v:\n%s", tt.env, got, tt.want, b.String())
		}
	}
}

func TestPrintSaysWhenTheTemporaryTTLIsCapped(t *testing.T) {
	for _, tt := range []struct {
		ttl, temporary string
		want           string
	}{
		{"10", "100", "# HLR_CACHE_TTL_TEMPORARY_SECONDS is capped at HLR_CACHE_TTL_SECONDS: temporary answers are kept 10 s\n"},
		{"86400", "900", ""},
	} {
		c, err := Load(env("HLR_PROVIDER", "simulator", "HLR_CACHE_TTL_SECONDS", tt.ttl, "HLR_CACHE_TTL_TEMPORARY_SECONDS", tt.temporary))
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := c.Print(&b); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(b.String(), "is capped at"); got != (tt.want != "") || !strings.Contains(b.String(), tt.want) {
			t.Errorf("TTL %s, temporary %s: printed\n%s\nwant the line %q", tt.ttl, tt.temporary, b.String(), tt.want)
		}
	}
}
