package logging

import (
	"math"
	"strconv"
	"testing"
)

// TestAppendDecimalIsAppendInt: an integer field's digits are strconv's,
// on both sides of every length appendDecimal writes itself.
func TestAppendDecimalIsAppendInt(t *testing.T) {
	for _, v := range []int{math.MinInt, -1000, -999, -10, -1, 0, 1, 9, 10, 11, 99, 100, 101, 160, 999, 1000, 1001, 65535, math.MaxInt} {
		if got, want := string(appendDecimal([]byte("x"), v)), "x"+strconv.Itoa(v); got != want {
			t.Errorf("%d: %q, want %q", v, got, want)
		}
	}
}
