package smpp_test

import (
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// TestLocalThrottleCountsEveryMessage: a submit_multi takes one token per
// destination. More than the burst passes only on a full bucket and is
// owed: nothing else passes until it is paid back. The rates are slow
// (one token per 100 s) so that no token comes back during the test.
func TestLocalThrottleCountsEveryMessage(t *testing.T) {
	tests := []struct {
		name    string
		perSec  float64
		asks    []int
		allowed []bool
	}{
		{"one at a time", 0.01, []int{1, 1}, []bool{true, false}},
		{"more than the burst, then owed", 0.01, []int{2, 1}, []bool{true, false}},
		{"a multi of 254 at 5/s owes 50 s", 5, []int{254, 1}, []bool{true, false}},
		{"a multi needs the whole burst", 0.01, []int{1, 2}, []bool{true, false}},
		{"unlimited", 0, []int{254, 254, 1}, []bool{true, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := smpp.LocalThrottle("acc", tt.perSec)
			for i, n := range tt.asks {
				if got := th.AllowN(n); got != tt.allowed[i] {
					t.Fatalf("ask %d: AllowN(%d) = %v, want %v", i, n, got, tt.allowed[i])
				}
			}
		})
	}
}
