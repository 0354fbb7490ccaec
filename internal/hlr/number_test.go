package hlr_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

// TestNormalize covers the type of number × the spellings ESMEs use ×
// the default region.
func TestNormalize(t *testing.T) {
	const (
		intl = hlr.TONInternational
		natl = hlr.TONNational
		unkn = hlr.TONUnknown
	)
	tests := []struct {
		addr   string
		ton    uint8
		region string
		want   string // "" = not a number
	}{
		// One UK mobile, every spelling.
		{"447400123456", intl, "GB", "447400123456"},
		{"+447400123456", intl, "GB", "447400123456"},
		{"00447400123456", intl, "GB", "447400123456"},
		{"+44 7400 123456", unkn, "GB", "447400123456"},
		{"+44-7400-123456", unkn, "", "447400123456"},
		{"00447400123456", unkn, "GB", "447400123456"},
		{"447400123456", unkn, "GB", "447400123456"},
		{"07400123456", unkn, "GB", "447400123456"},
		{"07400 123456", natl, "GB", "447400123456"},
		{"(07400) 123.456", natl, "GB", "447400123456"},
		{"7400123456", natl, "GB", "447400123456"},
		{"07400123456", natl, "GB", "447400123456"},
		// The same national digits are another number in another region.
		{"07400123456", natl, "DE", "497400123456"},
		{"07400123456", unkn, "FR", "337400123456"},
		// Regions with another trunk or international prefix.
		{"2125551234", natl, "US", "12125551234"},
		{"12125551234", unkn, "US", "12125551234"},
		{"011447400123456", unkn, "US", "447400123456"},
		{"89161234567", unkn, "RU", "79161234567"},
		{"3471234567", natl, "IT", "393471234567"},
		{"0612345678", natl, "IT", "390612345678"}, // Italy keeps its leading zero
		// Without a region: the digits as they are (today's reading).
		{"07400123456", natl, "", "07400123456"},
		{"00447400123456", unkn, "", "00447400123456"},
		{"40722570240", intl, "", "40722570240"},
		{"+40 722-570-240", unkn, "", "40722570240"},
		{"1", intl, "", "1"},
		{"123456789012345", intl, "", "123456789012345"},
		// Not numbers.
		{"1234567890123456", intl, "", ""},
		{"", intl, "", ""},
		{"+", intl, "", ""},
		{"4072abc", intl, "", ""},
		{"ALPHA", unkn, "GB", ""},
		{"++447400123456", unkn, "GB", ""},
		{"0", natl, "GB", ""},
	}
	n := hlr.NewNumbering()
	for _, tt := range tests {
		t.Run(tt.addr+"/"+tt.region, func(t *testing.T) {
			got, err := n.Normalize(tt.addr, tt.ton, tt.region)
			if tt.want == "" {
				if !errors.Is(err, hlr.ErrInvalidMSISDN) {
					t.Fatalf("Normalize(%q, ton %d, %q) = %q, %v; want ErrInvalidMSISDN", tt.addr, tt.ton, tt.region, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Normalize(%q, ton %d, %q) = %q, %v; want %q", tt.addr, tt.ton, tt.region, got, err, tt.want)
			}
		})
	}
}

// TestImpossible: the precheck knows numbers that cannot exist, and a
// national number can be possible in one region and impossible in another.
func TestImpossible(t *testing.T) {
	n := hlr.NewNumbering()
	tests := []struct {
		addr       string
		region     string
		impossible bool
	}{
		{"07400123456", "GB", false},
		{"01511234567", "GB", false}, // Liverpool
		{"01511234567", "DE", true},  // a German mobile range, too short
		{"015112345678", "DE", false},
		{"123", "GB", true},
		{"2125551234", "US", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr+"/"+tt.region, func(t *testing.T) {
			msisdn, err := n.Normalize(tt.addr, hlr.TONNational, tt.region)
			if err != nil {
				t.Fatal(err)
			}
			if got := n.Impossible(msisdn); got != tt.impossible {
				t.Fatalf("Impossible(%s) = %v, want %v", msisdn, got, tt.impossible)
			}
		})
	}
	for _, msisdn := range []string{"447400123456", "4915112345678", "13476841841"} {
		if n.Impossible(msisdn) {
			t.Errorf("Impossible(%s) = true for a real mobile", msisdn)
		}
	}
	if n.Impossible("9991234567") {
		t.Error("a country code the plans do not know should not be judged")
	}
	if !n.Impossible("4474001234567890") || !n.Impossible("44740") {
		t.Error("wrong lengths should be impossible")
	}
}

func TestNormalizeFastPathDoesNotAllocate(t *testing.T) {
	n := hlr.NewNumbering()
	for _, c := range []struct {
		addr   string
		ton    uint8
		region string
	}{
		{"447400123456", hlr.TONInternational, ""},
		{"447400123456", hlr.TONInternational, "GB"},
		{"+447400123456", hlr.TONUnknown, "GB"},
		{"447400123456", hlr.TONUnknown, "GB"},
	} {
		if a := testing.AllocsPerRun(100, func() { _, _ = n.Normalize(c.addr, c.ton, c.region) }); a != 0 {
			t.Errorf("Normalize(%q, ton %d, %q) allocates %v times", c.addr, c.ton, c.region, a)
		}
	}
}

// FuzzNormalize: any address, any TON, any region: no panic, and a number
// is always 1-15 digits; the quick reading never disagrees with the full one.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"447400123456", "+44 7400 123456", "00447400123456", "07400123456", "0", "+", "011447400123456", "(0)7400-123.456", "SENDER"} {
		for _, ton := range []uint8{0, 1, 2, 5} {
			f.Add(s, ton, "GB")
			f.Add(s, ton, "")
		}
	}
	n := hlr.NewNumbering()
	f.Fuzz(func(t *testing.T, addr string, ton uint8, region string) {
		if !n.ValidRegion(region) {
			region = "US"
		}
		got, err := n.Normalize(addr, ton, region)
		if err == nil && (len(got) < 1 || len(got) > 15 || strings.Trim(got, "0123456789") != "") {
			t.Fatalf("Normalize(%q, %d, %q) = %q: not 1-15 digits", addr, ton, region, got)
		}
		quick, needsPlan, qerr := n.NormalizeQuick(addr, ton, region)
		if !needsPlan && (quick != got || (qerr == nil) != (err == nil)) {
			t.Fatalf("NormalizeQuick(%q, %d, %q) = %q, %v; Normalize = %q, %v", addr, ton, region, quick, qerr, got, err)
		}
		if err == nil {
			n.Impossible(got)
		}
	})
}
