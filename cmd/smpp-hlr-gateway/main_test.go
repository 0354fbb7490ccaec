package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestCommands(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		wantOut  string // substring of stdout
		wantErr  string // substring of stderr
	}{
		{"version", []string{"version"}, nil, 0, "smpp-hlr-gateway dev", ""},
		{"unknown command", []string{"frobnicate"}, nil, 2, "", `unknown command "frobnicate"`},
		{"help", []string{"help"}, nil, 0, "check-config", ""},
		{"check-config masks secrets", []string{"check-config"}, map[string]string{"HLR_API_KEY": "topsecretkey", "HLR_API_SECRET": "topsecret2"}, 0, "HLR_API_KEY=****", ""},
		{"invalid configuration exits 2 naming the variable", []string{"serve"}, map[string]string{"SMPP_PORT": "abc"}, 2, "", "SMPP_PORT"},
		{"tmt without credentials", []string{"serve"}, map[string]string{"HLR_PROVIDER": "tmt"}, 2, "", "HLR_API_KEY"},
		{"unparseable REDIS_URL refused by check-config", []string{"check-config"}, map[string]string{"HLR_PROVIDER": "simulator", "REDIS_URL": "redis://:topsecret@[bad"}, 2, "", `config: REDIS_URL: "redis://****": not a URL`},
		{"bad cluster seed refused by serve", []string{"serve"}, map[string]string{"HLR_PROVIDER": "simulator", "REDIS_URL": "redis-cluster://:topsecret@h1:7000,:7001"}, 2, "", `config: REDIS_URL: "redis-cluster://:****@h1:7000,:7001": ":7001" is not host:port`},
		{"check-config masks the Sentinel password", []string{"check-config"}, map[string]string{"HLR_PROVIDER": "simulator", "REDIS_URL": "redis-sentinel://:topsecret@s1:26379,s2:26379/0?master=gw&sentinel_password=topsecret2"}, 0, "REDIS_URL=redis-sentinel://:****@s1:26379,s2:26379/0?master=gw&sentinel_password=****", ""},
		{"lookup with the simulator", []string{"lookup", "--json", "40722570240999"}, map[string]string{"HLR_PROVIDER": "simulator"}, 0, `"reason": "invalid_number"`, ""},
		{"lookup of a national number", []string{"lookup", "--ton", "2", "07400 123456"}, map[string]string{"HLR_PROVIDER": "simulator", "HLR_DEFAULT_REGION": "GB"}, 0, "447400123456", ""},
		{"lookup answered by the precheck", []string{"lookup", "--json", "--ton", "2", "01511234567"}, map[string]string{"HLR_PROVIDER": "simulator", "HLR_DEFAULT_REGION": "DE"}, 0, `"source": "precheck"`, ""},
		{"lookup of not a number", []string{"lookup", "--json", "hello"}, map[string]string{"HLR_PROVIDER": "simulator"}, 0, `"source": "not_a_number"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, envOf(tt.env), &out, &errOut)
			if code != tt.wantCode || !strings.Contains(out.String(), tt.wantOut) || !strings.Contains(errOut.String(), tt.wantErr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					code, out.String(), errOut.String(), tt.wantCode, tt.wantOut, tt.wantErr)
			}
			if strings.Contains(out.String()+errOut.String(), "topsecret") {
				t.Fatal("a secret was printed")
			}
		})
	}
}

// TestDemo runs the README's first command: every reference scenario must
// behave as the design says.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"demo"}, envOf(nil), &out, &errOut); code != 0 {
		t.Fatalf("demo exited %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"ESME_RINVDSTADR (0x0B)", "stat:DELIVRD err:003", "all scenarios behaved as expected"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestLookupShowsRuleAnswers(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte("prefixes:\n  - prefix: \"447700900\"\n    class: invalid\n    reason: test_range\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	env := envOf(map[string]string{"HLR_PROVIDER": "simulator", "HLR_RULES_FILE": rules})
	if code := run(context.Background(), []string{"lookup", "--json", "+447700900123"}, env, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{`"source": "rule"`, `"reason": "test_range"`, `"msisdn": "447700900123"`} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %s:\n%s", want, out.String())
		}
	}
}
