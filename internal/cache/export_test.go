package cache

// DigitSlot exposes digitSlot to the tests.
var DigitSlot = digitSlot

// HashedSlot is the bit that marks a hashed slot.
const HashedSlot = hashedSlot

// CleanUp runs the cache's pending maintenance (eviction) now.
func (m *Memory[V]) CleanUp() { m.c.CleanUp() }

// WaitProbes waits for the probes the cache started.
func (r *Redis) WaitProbes() { r.probes.Wait() }

// WaitShed waits for the shed passes the cache started.
func (r *Redis) WaitShed() { r.background.Wait() }

// GlobEscape exposes globEscape to the tests.
var GlobEscape = globEscape
