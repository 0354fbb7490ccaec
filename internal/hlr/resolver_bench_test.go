package hlr_test

import (
	"context"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/benchcpu"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

// BenchmarkReaderHit is the work the SMPP reader goroutine does to reject
// a live number whose answer is in the in-process tier: normalise the
// destination, consult the rules, read the memory tier (Resolver.Cached).
// The international spellings take the allocation-free fast path; a
// national spelling is declined (left to a worker), and its full reading
// is BenchmarkResolveNational.
func BenchmarkReaderHit(b *testing.B) {
	c := newChain(b, &fakeProvider{}, hlr.ChainOptions{Memory: newMemory(b), TTL: time.Hour})
	warm(b, c)
	rules, err := hlr.ParseRules([]byte(testRules), hlr.DefaultErrCodes())
	if err != nil {
		b.Fatal(err)
	}
	holder := &hlr.RulesHolder{}
	holder.Replace(rules)
	plain := hlr.NewResolver(c, hlr.ResolverOptions{})
	withRules := hlr.NewResolver(c, hlr.ResolverOptions{AccountRegions: map[string]string{"gb": "GB", "alice": "GB"}, Rules: holder})
	msisdn := benchMSISDNs[0] // 1999…: NANP digits
	for _, bc := range []struct {
		name string
		r    *hlr.Resolver
		d    hlr.Destination
	}{
		{"ton=1,no_region", plain, hlr.Destination{Addr: msisdn, TON: 1}},
		{"ton=0,plus,no_region", plain, hlr.Destination{Addr: "+" + msisdn, TON: 0}},
		{"ton=1,region,rules", withRules, hlr.Destination{Account: "alice", Addr: msisdn, TON: 1}},
		{"ton=0,plus,region,rules", withRules, hlr.Destination{Account: "gb", Addr: "+" + msisdn, TON: 0}},
	} {
		r := bc.r
		b.Run(bc.name, func(b *testing.B) {
			if _, ok := r.Cached(bc.d); !ok {
				b.Fatalf("%+v is not a memory hit", bc.d)
			}
			b.ReportAllocs()
			for b.Loop() {
				r.Cached(bc.d)
			}
		})
	}
}

// BenchmarkResolveNational is a worker answering a national spelling from
// the in-process tier: the numbering plan reads it, then the memory tier.
func BenchmarkResolveNational(b *testing.B) {
	c := newChain(b, &fakeProvider{}, hlr.ChainOptions{Memory: newMemory(b), TTL: time.Hour})
	r := hlr.NewResolver(c, hlr.ResolverOptions{DefaultRegion: "GB", Precheck: hlr.PrecheckOff})
	d := hlr.Destination{Addr: "07400123456", TON: 2}
	if _, ok := r.Cached(d); ok {
		b.Fatal("a national spelling was decided on the reader")
	}
	ctx := context.Background()
	if _, _, err := r.Resolve(ctx, d); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, res, _ := r.Resolve(ctx, d); res.Source != hlr.SourceMemory {
			b.Fatalf("source %v, want memory", res.Source)
		}
	}
}

// BenchmarkReaderHitParallel is the reader's reject path under load: several
// sessions' reader goroutines answer destinations from the in-process tier
// through Resolver.Cached, over a 1,000-number working set (the cache's
// entries are cold in the CPU caches, as under a real load). Every call
// must be a memory hit. cpu-ns/op is the CPU time of a hit (all goroutines'
// CPU time over the calls), which the load of a shared machine does not
// inflate as it does the wall-clock ns/op. BenchmarkChainCachedParallel is
// the memory tier's part of it (Chain.Cached).
func BenchmarkReaderHitParallel(b *testing.B) {
	c := newChain(b, &fakeProvider{}, hlr.ChainOptions{Memory: newMemory(b), TTL: time.Hour})
	warm(b, c)
	r := hlr.NewResolver(c, hlr.ResolverOptions{})
	dests := make([]hlr.Destination, len(benchMSISDNs))
	for i, n := range benchMSISDNs {
		dests[i] = hlr.Destination{Account: "acct", Addr: n, TON: 1}
	}
	benchcpu.RunParallel(b, func(i int) bool {
		res, ok := r.Cached(dests[i%len(dests)])
		return ok && res.Source == hlr.SourceMemory && res.Valid()
	})
}

func BenchmarkChainCachedParallel(b *testing.B) {
	c := newChain(b, &fakeProvider{}, hlr.ChainOptions{Memory: newMemory(b), TTL: time.Hour})
	warm(b, c)
	benchcpu.RunParallel(b, func(i int) bool {
		res, ok := c.Cached(benchMSISDNs[i%len(benchMSISDNs)])
		return ok && res.Source == hlr.SourceMemory && res.Valid()
	})
}
