package system

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestFullRedisReceiptsBeforeCache: one Redis with maxmemory 2 MB above
// what it holds at the start and noeviction; two gateways; two accounts
// submit 150 distinct numbers a second each for 25 s, their receivers
// bound only after 12 s. Receipts pending without a receiver and the HLR
// answers cached for a day fill Redis; it refuses receipts, which wait in
// the outage buffer. The HLR cache gives way (stops writing, removes its
// own keys), so every acknowledged receipt is stored and delivered. Before,
// the memory the delivered receipts freed went to the next answers, and
// ~5,000 receipts stayed in the buffers after the load, until the cached
// answers would expire a day later.
func TestFullRedisReceiptsBeforeCache(t *testing.T) {
	const (
		rate   = 150
		secs   = 25
		bindAt = 12 * time.Second
	)
	rs := startRedis(t, "--maxmemory-policy", "noeviction")
	c := nodeClient(t, rs.addr(), "")
	ctx, cancel := shortCtx()
	info, err := c.Info(ctx, "memory").Result()
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	var used int64
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			used, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	ctx, cancel = shortCtx()
	err = c.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used+2<<20, 10)).Err()
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	accts := []account{{"acct001", "pw001"}, {"acct002", "pw002"}}
	env := mergeEnv(topoEnv(rs.URL(), writeAccounts(t, accts)), map[string]string{"DLR_BUFFER_SIZE": "20000"})
	gws := [2]*gw{startGW(t, "gw-a", env), startGW(t, "gw-b", env)}

	runs := make([]*loadRun, len(accts))
	var wg sync.WaitGroup
	start := time.Now()
	for i, a := range accts {
		runs[i] = &loadRun{acct: a, rc: newReceipts()}
		tx := dialAs(t, gws[i%2].smppAddr, a, pdu.CmdBindTransmitter, nil)
		l := runs[i]
		dests := invalidNumbers(70_000_000+i*1_000_000, rate*secs)
		wg.Add(1)
		go func() { defer wg.Done(); l.pace(tx, dests, time.Second/rate, 64, 30*time.Second) }()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	peak := watchBuffers(gws, done)
	time.Sleep(time.Until(start.Add(bindAt)))
	for i, a := range accts {
		dialAs(t, gws[(i+1)%2].smppAddr, a, pdu.CmdBindReceiver, runs[i].rc)
	}
	<-done

	lost, accepted := lostSince(runs, time.Time{}, 20*time.Second)
	var shed, leftBuffered float64
	for _, g := range gws {
		v, _ := g.series("hlr_cache_redis_shed_total")
		shed += v
		b, _ := g.series("dlr_buffer_size")
		leftBuffered += b
	}
	t.Logf("full Redis: %d acknowledged; peak buffer per gateway %v, left %v; cache keys removed for receipts %v; lost per account: {%s}",
		accepted, peak(), leftBuffered, shed, fmtCounts(lost))
	for _, l := range runs {
		if got := l.tally(time.Time{}, time.Time{}); got[pdu.StatusOK.String()] != sumCounts(got) {
			t.Errorf("%s: submits answered %s, want all ESME_ROK (the buffer has room)", l.acct.sys, fmtTally(got))
		}
	}
	if len(lost) > 0 {
		t.Errorf("acknowledged receipts not delivered 20 s after the load: {%s} (%v still buffered)", fmtCounts(lost), leftBuffered)
	}
	if shed == 0 {
		t.Errorf("hlr_cache_redis_shed_total = 0: Redis never refused a receipt, the test did not fill it")
	}
}
