package cache_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/benchcpu"
	"github.com/smpp-hlr-gateway/gateway/internal/cache"
)

// benchValue is about the size of an hlr.Result.
type benchValue struct {
	A, B, C, D, E, F, G string
	N, M                int
	Raw                 []byte
	Expires             time.Time
}

// BenchmarkMemoryRefParallel is a memory hit as the SMPP readers make it:
// GOMAXPROCS goroutines read 1,000 cached keys (the end-to-end benchmark's
// working set), each walking them from its own start. cpu-ns/op is the
// process's CPU time per hit, which the other load of a shared machine
// inflates less than the wall-clock ns/op.
func BenchmarkMemoryRefParallel(b *testing.B) {
	const n = 1000
	m, err := cache.NewMemory[benchValue](n, cache.MemoryOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "1999" + strconv.Itoa(5550000000+i)
		if err := m.Set(context.Background(), keys[i], benchValue{A: "valid", N: i}, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	benchcpu.RunParallel(b, func(i int) bool {
		p, ok := m.Ref(keys[i%len(keys)])
		return ok && p.A == "valid"
	})
}
