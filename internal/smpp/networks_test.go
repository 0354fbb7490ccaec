package smpp

import (
	"net/netip"
	"testing"
)

func TestPrefixContainsIPv4MappedEitherSide(t *testing.T) {
	tests := []struct {
		prefix, ip string
		want       bool
	}{
		{"127.0.0.1/32", "127.0.0.1", true},
		{"127.0.0.1/32", "::ffff:127.0.0.1", true},
		{"::ffff:127.0.0.1/128", "127.0.0.1", true},
		{"::ffff:127.0.0.1/128", "::ffff:127.0.0.1", true},
		{"::ffff:10.0.0.0/104", "10.9.8.7", true},
		{"::ffff:10.0.0.0/104", "11.0.0.1", false},
		{"::ffff:127.0.0.1/128", "127.0.0.2", false},
		{"10.0.0.0/8", "::ffff:10.1.2.3", true},
		{"2001:db8::/32", "2001:db8::1", true},
		{"2001:db8::/32", "10.0.0.1", false},
		{"::/0", "192.0.2.1", true},
	}
	for _, tt := range tests {
		got := prefixContains(netip.MustParsePrefix(tt.prefix), netip.MustParseAddr(tt.ip))
		if got != tt.want {
			t.Errorf("prefixContains(%s, %s) = %v, want %v", tt.prefix, tt.ip, got, tt.want)
		}
	}
}
