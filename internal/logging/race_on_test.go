//go:build race

package logging

// raceEnabled: under the race detector sync.Pool drops a share of what is
// put back on purpose, so allocation counts of pooled code mean nothing.
const raceEnabled = true
