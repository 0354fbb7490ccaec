package digits

const (
	high  = 0xF0F0F0F0F0F0F0F0
	three = 0x3030303030303030 // '0' in every byte
	six   = 0x0606060606060606
)

// Load8 returns the first 8 bytes of s, the first in the low byte: one
// load, the compiler combines them. s must hold at least 8 bytes.
func Load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// Are8 reports whether the 8 bytes in x (read by Load8) are all '0'–'9':
// each byte is 0x30–0x3F, and adding 6 leaves it below 0x40.
func Are8(x uint64) bool {
	return x&high == three && (x+six)&high == three
}

// Value8 returns the value of the 8 decimal digits in x (read by Load8,
// the first digit the most significant), and false when a byte is not a
// digit.
func Value8(x uint64) (uint64, bool) {
	if !Are8(x) {
		return 0, false
	}
	x -= three
	// Byte i becomes 10·d(i) + d(i+1); bytes 0, 2, 4 and 6 are the four
	// pairs, which two multiplications weigh and add up in bits 32–63.
	x = x*10 + x>>8
	x = ((x&0x000000FF000000FF)*(100+1000000<<32) + (x>>16&0x000000FF000000FF)*(1+10000<<32)) >> 32
	return x, true
}
