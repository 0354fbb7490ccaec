package dlr

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// benchReceipt is a realistic receipt with distinct strings.
func benchReceipt(i int) Receipt {
	return Receipt{
		MessageID:   fmt.Sprintf("%016X", 0x5A00000000000000+uint64(i)),
		SystemID:    "acme01",
		Source:      pdu.Address{TON: 5, Addr: "ACME"},
		Dest:        pdu.Address{TON: 1, NPI: 1, Addr: fmt.Sprintf("4072257%05d", i%100000)},
		SubmittedAt: t0,
		Err:         "003",
		Reason:      "invalid_number",
		DueAt:       t0.Add(time.Second + time.Duration(i)*time.Microsecond),
		ExpiresAt:   t0.Add(24 * time.Hour),
	}
}

// BenchmarkMemoryQueuePendingBytes puts one million receipts and reports
// the heap bytes each pending receipt costs. Run with -benchtime=1x.
func BenchmarkMemoryQueuePendingBytes(b *testing.B) {
	const n = 1_000_000
	ctx := context.Background()
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		q := NewMemoryQueue(MemoryOptions{})
		for i := range n {
			if err := q.Put(ctx, benchReceipt(i)); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/pending")
		runtime.KeepAlive(q)
	}
}

// benchPutClaimAck measures the queue's work per receipt: Put, then Claim
// in batches of 256 and one Ack per batch.
func benchPutClaimAck(b *testing.B, q Queue) {
	ctx := context.Background()
	const batch = 256
	rs := make([]Receipt, 0, batch)
	now := t0.Add(time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		rs = rs[:0]
		for j := i; j < min(i+batch, b.N); j++ {
			r := benchReceipt(j)
			if err := q.Put(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
		got, err := q.Claim(ctx, "acme01", now, time.Minute, batch)
		if err != nil {
			b.Fatal(err)
		}
		rs = append(rs, got...)
		if err := q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: now}, rs...); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPutClaimAck(b *testing.B) {
	for _, impl := range queueImpls() {
		b.Run(impl.name, func(b *testing.B) {
			benchPutClaimAck(b, impl.newB(b))
		})
	}
}

// BenchmarkRedisQueuePendingBytes puts 1 000 000 receipts (8 writers) and
// reports Redis's used_memory growth per pending receipt. Run with
// -benchtime=1x.
func BenchmarkRedisQueuePendingBytes(b *testing.B) {
	const n = 1_000_000
	ctx := context.Background()
	for range b.N {
		c := redisTestClient(b)
		q := NewRedisQueue(c, RedisOptions{Prefix: redisTestPrefix(b, c)})
		before := redisUsedMemory(b, c)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += 8 {
					if err := q.Put(ctx, benchReceipt(i)); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(redisUsedMemory(b, c)-before)/n, "redis-bytes/pending")
	}
}

// redisUsedMemory is INFO memory's used_memory without the clients'
// buffers (mem_clients_normal): the pipelines of a group commit leave
// query buffers behind that are not the receipts' cost.
func redisUsedMemory(b *testing.B, c redis.UniversalClient) int64 {
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	var used, clients int64 = -1, 0
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			used, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "mem_clients_normal:"); ok {
			clients, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if used < 0 {
		b.Fatal("no used_memory in INFO")
	}
	return used - clients
}

// BenchmarkPutParallel is the submit path's cost: concurrent Puts.
func BenchmarkPutParallel(b *testing.B) {
	for _, impl := range queueImpls() {
		b.Run(impl.name, func(b *testing.B) {
			q := impl.newB(b)
			ctx := context.Background()
			var next atomicCounter
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := q.Put(ctx, benchReceipt(next.inc())); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

type atomicCounter struct {
	mu sync.Mutex
	n  int
}

func (c *atomicCounter) inc() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

// BenchmarkRedisPutClaimAckCPU is the receipt path as the gateway runs it
// (puts group-committed in batches of up to 256, one claim and one ack per
// batch) and reports Redis's CPU per receipt (INFO cpu, used_cpu_sys +
// used_cpu_user). Meaningful only against a Redis nothing else uses
// (REDIS_TEST_URL).
func BenchmarkRedisPutClaimAckCPU(b *testing.B) {
	c := redisTestClient(b)
	q := NewRedisQueue(c, RedisOptions{Prefix: redisTestPrefix(b, c)})
	ctx := context.Background()
	const batch = 256
	now := t0.Add(time.Hour)
	b.ReportAllocs()
	cpu0 := redisUsedCPU(b, c)
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		n := min(batch, b.N-i)
		var wg sync.WaitGroup
		wg.Add(n)
		for j := range n {
			q.PutAsync(benchReceipt(i+j), func(err error) {
				if err != nil {
					b.Error(err)
				}
				wg.Done()
			})
		}
		wg.Wait()
		got, err := q.Claim(ctx, "acme01", now, time.Minute, batch)
		if err != nil {
			b.Fatal(err)
		}
		if err := q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: now}, got...); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric((redisUsedCPU(b, c)-cpu0)*1e6/float64(b.N), "redis-µs/receipt")
}

// redisUsedCPU is INFO cpu's used_cpu_sys + used_cpu_user, in seconds.
func redisUsedCPU(b *testing.B, c redis.UniversalClient) float64 {
	info, err := c.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var sum float64
	for _, line := range strings.Split(info, "\r\n") {
		for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, k); ok {
				f, _ := strconv.ParseFloat(v, 64)
				sum += f
			}
		}
	}
	return sum
}

// BenchmarkPutParallelCluster is the submit path's cost on a Redis
// Cluster of three masters: concurrent Puts of six accounts spread over
// them, each master's share of a batch written and answered on its own.
func BenchmarkPutParallelCluster(b *testing.B) {
	c, _ := redistest.Cluster(b, 3)
	q := NewRedisQueue(c, RedisOptions{Prefix: "dlrbench:", InstanceID: "a"})
	ctx := context.Background()
	var next atomicCounter
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.inc()
			r := benchReceipt(i)
			r.SystemID = "acme0" + strconv.Itoa(i%6)
			if err := q.Put(ctx, r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
