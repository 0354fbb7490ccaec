package config

import (
	"errors"
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
