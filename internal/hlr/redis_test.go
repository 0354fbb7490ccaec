package hlr_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

func TestRedisTierSharedBetweenInstances(t *testing.T) {
	client, prefix := redistest.Client(t)
	p := &fakeProvider{fn: func(context.Context, string) (hlr.Result, error) {
		r := validResult()
		yes := true
		r.Ported, r.MCC, r.MNC, r.Network = &yes, "226", "010", "Orange RO"
		return r, nil
	}}
	newGateway := func(reg prometheus.Registerer) *hlr.Chain {
		return newChain(t, p, hlr.ChainOptions{
			Memory:     newMemory(t),
			Redis:      cache.NewRedis(client, cache.RedisOptions{Prefix: prefix}),
			TTL:        time.Hour,
			Registerer: reg,
		})
	}
	ctx := context.Background()
	first, err := newGateway(nil).Lookup(ctx, "40722570240")
	if err != nil || first.Source != hlr.SourceProvider {
		t.Fatalf("first gateway: %+v, %v", first, err)
	}
	reg := prometheus.NewRegistry()
	second := newGateway(reg)
	got, err := second.Lookup(ctx, "40722570240")
	if err != nil || got.Source != hlr.SourceRedis {
		t.Fatalf("second gateway: %+v, %v", got, err)
	}
	if p.calls.Load() != 1 {
		t.Fatalf("provider calls = %d, want 1", p.calls.Load())
	}
	if got.Class != first.Class || got.ErrCode != first.ErrCode || got.Reason != first.Reason ||
		got.MCC != "226" || got.MNC != "010" || got.Ported == nil || !*got.Ported ||
		!bytes.Equal(got.Raw, first.Raw) {
		t.Fatalf("round trip lost data:\n got %+v\nwant %+v", got, first)
	}
	if got.Expires.Sub(first.Expires).Abs() > time.Millisecond {
		t.Fatalf("Expires %v, want %v", got.Expires, first.Expires)
	}
	// Now in the second instance's memory tier.
	got, err = second.Lookup(ctx, "40722570240")
	if err != nil || got.Source != hlr.SourceMemory {
		t.Fatalf("third lookup: %+v, %v", got, err)
	}
	if h := metricValue(t, reg, "hlr_cache_hits_total", map[string]string{"tier": "redis"}); h != 1 {
		t.Fatalf("redis hits = %v", h)
	}
	if n := metricValue(t, reg, "hlr_requests_total", nil); n != 0 {
		t.Fatalf("second instance provider requests = %v", n)
	}
	// The key layout is prefix + msisdn.
	if n, _ := client.Exists(ctx, prefix+"40722570240").Result(); n != 1 {
		t.Fatal("key not found under prefix+msisdn")
	}
}

func TestRedisTierIgnoresGarbage(t *testing.T) {
	client, prefix := redistest.Client(t)
	ctx := context.Background()
	if err := client.Set(ctx, prefix+"1", "not json", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	p := &fakeProvider{}
	c := newChain(t, p, hlr.ChainOptions{Redis: cache.NewRedis(client, cache.RedisOptions{Prefix: prefix}), TTL: time.Hour})
	r, err := c.Lookup(ctx, "1")
	if err != nil || r.Source != hlr.SourceProvider {
		t.Fatalf("%+v, %v", r, err)
	}
}

func TestRedisUnreachableFailsOpen(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer client.Close()
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := &fakeProvider{}
	reg := prometheus.NewRegistry()
	c := newChain(t, p, hlr.ChainOptions{
		Redis:      cache.NewRedis(client, cache.RedisOptions{Logger: logger}),
		TTL:        time.Hour,
		Registerer: reg,
		Logger:     logger,
	})
	for i := 0; i < 20; i++ {
		r, err := c.Lookup(context.Background(), num(i))
		if err != nil || r.Class != hlr.ClassValid || r.Source != hlr.SourceProvider {
			t.Fatalf("lookup %d: %+v, %v", i, r, err)
		}
	}
	if p.calls.Load() != 20 {
		t.Fatalf("provider calls = %d", p.calls.Load())
	}
	if n := strings.Count(logs.String(), "redis.cache.down"); n != 1 {
		t.Fatalf("state change logged %d times, want 1:\n%s", n, logs.String())
	}
	if m := metricValue(t, reg, "hlr_cache_misses_total", map[string]string{"tier": "redis"}); m != 20 {
		t.Fatalf("redis misses = %v, want 20", m)
	}
}
