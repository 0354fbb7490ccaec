// Package gctune lets the garbage collector run less often while the live
// heap is small.
//
// The gateway allocates a few hundred bytes per message (the decoded PDU,
// its request) and keeps little: at 300,000 messages a second with a live
// heap of a few megabytes, the default GOGC=100 collects many times a
// second, and the collector and the allocation it paces took about a fifth
// of the CPU of the reject path. A Tuner reads the live heap once a second
// and sets GOGC so that the heap may grow by GC_HEADROOM_MB before the
// next collection, within [100, MaxPercent]: a small heap gets a larger
// percentage (at most MaxPercent, 400: five times the live heap), a heap
// of GC_HEADROOM_MB or more the default 100, so the memory a large queue
// of pending receipts needs is what it was. The percentage in force is
// exported by the Go collector as go_gc_gogc_percent.
//
// An operator who sets GOGC (or GOMEMLIMIT) in the environment keeps it:
// the app does not start a Tuner then, and GC_HEADROOM_MB=0 turns it off.
package gctune
