package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

// TestErrCodesHaveOneParser: check-config (Load → Validate) and serve
// (hlr.ParseErrCodes in the provider) accept exactly the same HLR_ERR_CODES.
func TestErrCodesHaveOneParser(t *testing.T) {
	for _, in := range []string{
		"", "other=000", "invalid_number=003, other=000", "network_not_supported=007",
		"foo=001", "other", "other=1", "other=0001", "other=000,other=001", "Other=000", "=000",
		"not_supported=000,network_not_supported=001", ",,other=002,",
	} {
		t.Run(in, func(t *testing.T) {
			_, serveErr := hlr.ParseErrCodes(in)
			_, checkErr := Load(env("HLR_ERR_CODES", in))
			if (serveErr == nil) != (checkErr == nil) {
				t.Fatalf("serve: %v; check-config: %v", serveErr, checkErr)
			}
			if checkErr != nil && !errors.Is(checkErr, hlr.ErrBadErrCodes) {
				t.Fatalf("check-config error %v is not the HLR parser's", checkErr)
			}
		})
	}
}

func TestNumberingVariables(t *testing.T) {
	for _, tt := range []struct {
		env     []string
		wantErr string
	}{
		{[]string{"HLR_DEFAULT_REGION", "gb"}, ""},
		{[]string{"HLR_DEFAULT_REGION", "UK"}, "HLR_DEFAULT_REGION"},
		{[]string{"HLR_PRECHECK", "true"}, ""},
		{[]string{"HLR_PRECHECK", "maybe"}, "HLR_PRECHECK"},
		{[]string{"HLR_CACHE_TTL_TEMPORARY_SECONDS", "-1"}, "HLR_CACHE_TTL_TEMPORARY_SECONDS"},
		{[]string{"HLR_RULES_FILE", "/nonexistent/rules.yaml"}, "HLR_RULES_FILE"},
	} {
		c, err := Load(env(tt.env...))
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%v: %v", tt.env, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%v: error %v, want one naming %s", tt.env, err, tt.wantErr)
		case err == nil && tt.env[0] == "HLR_DEFAULT_REGION" && c.HLR.DefaultRegion != "GB":
			t.Errorf("region %q, want GB", c.HLR.DefaultRegion)
		}
	}
}
