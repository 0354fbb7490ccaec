package benchcpu

import (
	"sync/atomic"
	"testing"
)

// RunParallel calls op from GOMAXPROCS goroutines, each walking the
// indexes from its own start so that they do not read the same entry in
// lock step, and reports cpu-ns/op. op returns false on a wrong result,
// which fails the benchmark.
func RunParallel(b *testing.B, op func(i int) bool) {
	var seed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(1)) * 7919
		for pb.Next() {
			i += 613
			if !op(i) {
				b.Error("wrong result")
				return
			}
		}
	})
	if cpu := processCPU() - cpu; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
