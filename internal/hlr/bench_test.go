package hlr_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr/tmt"
)

const (
	benchNumbers = 1000
	benchCallers = 256
)

var benchMSISDNs = func() []string {
	s := make([]string, benchNumbers)
	for i := range s {
		s[i] = num(i)
	}
	return s
}()

// runCallers performs b.N lookups from exactly benchCallers goroutines over
// the 1,000 numbers and reports lookups/s.
func runCallers(b *testing.B, l hlr.Lookuper) float64 {
	b.Helper()
	ctx := context.Background()
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for g := 0; g < benchCallers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if _, err := l.Lookup(ctx, benchMSISDNs[i%benchNumbers]); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d lookups failed", n)
	}
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "lookups/s")
	return rate
}

func warm(b *testing.B, l hlr.Lookuper) {
	b.Helper()
	for _, n := range benchMSISDNs {
		if _, err := l.Lookup(context.Background(), n); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMemoryHit(b *testing.B) {
	c := newChain(b, &fakeProvider{}, hlr.ChainOptions{Memory: newMemory(b), TTL: time.Hour})
	warm(b, c)
	runCallers(b, c)
}

func BenchmarkRedisHit(b *testing.B) {
	client, prefix := redistest.Client(b)
	p := &fakeProvider{}
	c := newChain(b, p, hlr.ChainOptions{Redis: cache.NewRedis(client, cache.RedisOptions{Prefix: prefix}), TTL: time.Hour})
	warm(b, c)
	before := p.calls.Load()
	runCallers(b, c)
	if p.calls.Load() != before {
		b.Fatalf("provider called %d times during Redis hits", p.calls.Load()-before)
	}
	b.ReportMetric(float64(client.Options().PoolSize), "redis_pool")
}

// BenchmarkMiss: every lookup goes to a local fake TMT over HTTP (no cache),
// 256 callers, the chain's concurrency limit at 256.
func BenchmarkMiss(b *testing.B) {
	for _, lat := range []time.Duration{0, 50 * time.Millisecond} {
		b.Run("latency="+lat.String(), func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if lat > 0 {
					time.Sleep(lat)
				}
				n := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"` + n + `":{"number":` + n + `,"status":0,"status_message":"Success","error":0,"imsi":null,"mcc":"226","mnc":"010","network":"Fake","present":"yes","type":"mobile","ported":false,"trxid":"x"}}`))
			}))
			defer srv.Close()
			client, err := tmt.New(tmt.Options{BaseURL: srv.URL, APIKey: "k", APISecret: "s", MaxConns: benchCallers})
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			c := newChain(b, client, hlr.ChainOptions{TTL: 0, MaxConcurrency: benchCallers})
			rate := runCallers(b, c)
			if lat > 0 {
				ideal := float64(benchCallers) / lat.Seconds()
				b.ReportMetric(100*rate/ideal, "%_of_ideal")
			}
		})
	}
}
