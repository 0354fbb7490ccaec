// Package digits reads eight ASCII bytes at a time: whether they are all
// decimal digits, and their value. The destination of every submit goes
// through it twice on the reader goroutine (the number's check in
// internal/hlr and the memory cache's slot in internal/cache), where a
// loop over the bytes cost several times as much. Pure functions, small
// enough for the compiler to inline at each call.
package digits
