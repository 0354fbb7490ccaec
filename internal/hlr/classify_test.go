package hlr_test

import (
	"errors"
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

func TestClassify(t *testing.T) {
	codes := hlr.DefaultErrCodes()
	tests := []struct {
		name    string
		a       hlr.Answer
		class   hlr.Class
		reason  string
		errCode string
		err     error
	}{
		{"valid", hlr.Answer{Status: 0, Error: 0, Present: "yes", LineType: "mobile"}, hlr.ClassValid, "valid", "000", nil},
		{"invalid number", hlr.Answer{Status: 1, StatusMessage: "Invalid Number"}, hlr.ClassInvalid, "invalid_number", "003", nil},
		{"not authorised", hlr.Answer{Status: 2}, 0, "", "", hlr.ErrProvider},
		{"congestion status", hlr.Answer{Status: 3}, 0, "", "", hlr.ErrProvider},
		{"unknown status", hlr.Answer{Status: 7}, 0, "", "", hlr.ErrProvider},
		{"unknown subscriber", hlr.Answer{Error: 1, Present: "no"}, hlr.ClassInvalid, "unknown_subscriber", "001", nil},
		{"present no, error 0", hlr.Answer{Error: 0, Present: "no"}, hlr.ClassInvalid, "unknown_subscriber", "001", nil},
		{"unreachable", hlr.Answer{Error: 2, Present: "no"}, hlr.ClassInvalid, "unreachable", "002", nil},
		{"absent", hlr.Answer{Error: 27, Present: "no"}, hlr.ClassInvalid, "absent", "001", nil},
		{"other subscriber error", hlr.Answer{Error: 5, Present: "no"}, hlr.ClassInvalid, "subscriber_error", "001", nil},
		{"other error, present na", hlr.Answer{Error: 5, Present: "na"}, hlr.ClassInvalid, "subscriber_error", "000", nil},
		{"191", hlr.Answer{Error: 191, Present: "na"}, hlr.ClassInvalid, "network_not_supported", "000", nil},
		{"192", hlr.Answer{Error: 192}, hlr.ClassInvalid, "network_not_supported", "000", nil},
		{"193 landline", hlr.Answer{Error: 193, LineType: "fixed"}, hlr.ClassInvalid, "landline", "000", nil},
		{"present na", hlr.Answer{Present: "na"}, hlr.ClassInvalid, "presence_unknown", "000", nil},
		{"error 33", hlr.Answer{Error: 33}, 0, "", "", hlr.ErrNetworkFailure},
		{"error 34", hlr.Answer{Error: 34}, 0, "", "", hlr.ErrProvider},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := hlr.Classify(tt.a, codes)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if r.Class != tt.class || r.Reason != tt.reason || r.ErrCode != tt.errCode {
				t.Fatalf("got %v/%s/%s, want %v/%s/%s", r.Class, r.Reason, r.ErrCode, tt.class, tt.reason, tt.errCode)
			}
			if r.Source != hlr.SourceProvider {
				t.Fatalf("source = %v", r.Source)
			}
		})
	}
}

func TestClassifyCustomCodes(t *testing.T) {
	codes, err := hlr.ParseErrCodes("unknown_subscriber=011")
	if err != nil {
		t.Fatal(err)
	}
	r, err := hlr.Classify(hlr.Answer{Error: 1, Present: "no"}, codes)
	if err != nil || r.ErrCode != "011" {
		t.Fatalf("got %q, %v", r.ErrCode, err)
	}
	// Empty fields fall back to the defaults.
	r, err = hlr.Classify(hlr.Answer{Status: 1}, hlr.ErrCodes{})
	if err != nil || r.ErrCode != "003" {
		t.Fatalf("got %q, %v", r.ErrCode, err)
	}
}

func TestParseErrCodes(t *testing.T) {
	tests := []struct {
		in      string
		want    hlr.ErrCodes
		wantErr bool
	}{
		{"", hlr.DefaultErrCodes(), false},
		{"invalid_number=004, unknown_subscriber=005,unreachable=006,network_not_supported=007,other=008",
			hlr.ErrCodes{InvalidNumber: "004", UnknownSubscriber: "005", Unreachable: "006", NotSupported: "007", Other: "008"}, false},
		{"not_supported=009", func() hlr.ErrCodes { c := hlr.DefaultErrCodes(); c.NotSupported = "009"; return c }(), false},
		{"invalid_number", hlr.ErrCodes{}, true},
		{"invalid_number=3", hlr.ErrCodes{}, true},
		{"invalid_number=abc", hlr.ErrCodes{}, true},
		{"bogus=001", hlr.ErrCodes{}, true},
		{"foo=001", hlr.ErrCodes{}, true},
		{"other=000,other=001", hlr.ErrCodes{}, true},
		{"not_supported=000,network_not_supported=001", hlr.ErrCodes{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := hlr.ParseErrCodes(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, hlr.ErrBadErrCodes) {
					t.Fatalf("err %v does not wrap ErrBadErrCodes", err)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			back, err := hlr.ParseErrCodes(got.String())
			if err != nil || back != got {
				t.Fatalf("String round trip: %+v, %v", back, err)
			}
		})
	}
}
