package hlr_test

import (
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

// BenchmarkReaderHit is the work the SMPP reader goroutine does to reject
// a live number whose answer is in the in-process tier: normalise the
// destination, consult the rules, read the memory tier (Resolver.Cached).
// The international spellings take the allocation-free fast path; a
// national number is read with the region's numbering plan.
func BenchmarkReaderHit(b *testing.B) {
	c := newChain(b, &fakeProvider{}, hlr.ChainOptions{Memory: newMemory(b), TTL: time.Hour})
	warm(b, c)
	rules, err := hlr.ParseRules([]byte(testRules), hlr.DefaultErrCodes())
	if err != nil {
		b.Fatal(err)
	}
	holder := &hlr.RulesHolder{}
	holder.Replace(rules)
	r := hlr.NewResolver(c, hlr.ResolverOptions{AccountRegions: map[string]string{"gb": "GB"}, Rules: holder})
	msisdn := benchMSISDNs[0] // 1999…: NANP digits
	for _, bc := range []struct {
		name string
		d    hlr.Destination
	}{
		{"ton=1,no_region", hlr.Destination{Addr: msisdn, TON: 1}},
		{"ton=1,region", hlr.Destination{Account: "gb", Addr: msisdn, TON: 1}},
		{"ton=0,plus,region", hlr.Destination{Account: "gb", Addr: "+" + msisdn, TON: 0}},
		{"ton=2,national,region", hlr.Destination{Account: "gb", Addr: "00" + msisdn, TON: 2}},
	} {
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
