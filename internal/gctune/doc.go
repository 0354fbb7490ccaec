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
// of pending receipts needs is what it was. Between collections the heap
// then holds up to max(GC_HEADROOM_MB, the live heap) of garbage, and at
// most four times the live heap. The percentage in force is exported by
// the Go collector as go_gc_gogc_percent.
//
// GOGC follows the heap a second late: a live heap that grows fast from
// small (a burst of receipts for an account with no receiver bound) may
// reach five times its new size before the next adjustment. Where memory
// is limited (a container), GOMEMLIMIT bounds that, and setting it turns
// the Tuner off.
//
// An operator who sets GOGC (or GOMEMLIMIT) in the environment keeps it:
// the app does not start a Tuner then, and GC_HEADROOM_MB=0 turns it off.
package gctune
