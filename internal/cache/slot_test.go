package cache_test

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
)

// refSlot is digitSlot written plainly: strconv reads the digits.
func refSlot(key string) (uint64, bool) {
	n := len(key)
	if n == 0 || n > 15 {
		return 0, false
	}
	for i := 0; i < n; i++ {
		if key[i] < '0' || key[i] > '9' {
			return 0, false
		}
	}
	if n < 8 {
		v, _ := strconv.ParseUint(key, 10, 64)
		return v<<4 | uint64(n), true
	}
	hi, _ := strconv.ParseUint(key[:8], 10, 64)
	lo, _ := strconv.ParseUint(key[n-8:], 10, 64)
	return hi<<31 | lo<<4 | uint64(n), true
}

func TestDigitSlot(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"", false},
		{"0", true},
		{"7", true},
		{"007", true},
		{"1234567", true},
		{"12345678", true},
		{"99999999", true},
		{"123456789", true},
		{"447400123456", true},
		{"999999999999999", true},   // 15 digits
		{"1000000000000000", false}, // 16
		{"+447400123456", false},
		{"4474001234 6", false},
		{"44740012345a", false},
		{"4474001234:6", false}, // ':' is '9'+1
		{"4474001234/6", false}, // '/' is '0'-1
		{"12345678\x00", false},
		{"1234567\xb9", false},
		{"\x39\x39\x39\x39\x39\x39\x39\x3f", false},
		{"abc", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, ok := cache.DigitSlot(tt.key)
			want, wantOK := refSlot(tt.key)
			if ok != tt.ok || ok != wantOK || got != want {
				t.Fatalf("DigitSlot(%q) = %#x, %v; want %#x, %v", tt.key, got, ok, want, tt.ok)
			}
			if ok && got&cache.HashedSlot != 0 {
				t.Fatalf("DigitSlot(%q) = %#x has the hashed bit", tt.key, got)
			}
		})
	}
}

// TestDigitSlotDistinct: different number keys have different slots,
// including keys equal but for leading zeros, and keys of 8 to 15 digits
// sharing their first and last 8 digits' values.
func TestDigitSlotDistinct(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[uint64]string{}
	add := func(k string) {
		s, ok := cache.DigitSlot(k)
		if !ok {
			t.Fatalf("DigitSlot(%q) not ok", k)
		}
		if prev, dup := seen[s]; dup && prev != k {
			t.Fatalf("%q and %q share slot %#x", prev, k, s)
		}
		seen[s] = k
	}
	for n := 1; n <= 15; n++ {
		for range 2000 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte('0' + rng.IntN(10))
			}
			add(string(b))
		}
		add("0000000000000000"[:n])
		add("9999999999999999"[:n])
	}
	for _, k := range []string{"1", "01", "001", "12345678", "012345678", "1234567812345678"[:15], "123456781234567"} {
		add(k)
	}
}

func FuzzDigitSlot(f *testing.F) {
	for _, k := range []string{"", "1", "447400123456", "1999555000000", "12345678:", "+4474"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		got, ok := cache.DigitSlot(key)
		want, wantOK := refSlot(key)
		if ok != wantOK || got != want {
			t.Fatalf("DigitSlot(%q) = %#x, %v; want %#x, %v", key, got, ok, want, wantOK)
		}
	})
}
