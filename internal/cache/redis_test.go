package cache_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
)

func TestRedisGetSet(t *testing.T) {
	client, prefix := redistest.Client(t)
	r := cache.NewRedis(client, cache.RedisOptions{Prefix: prefix})
	ctx := context.Background()

	if _, ok, err := r.Get(ctx, "40722570240"); ok || err != nil {
		t.Fatalf("miss: ok=%v err=%v", ok, err)
	}
	if err := r.Set(ctx, "40722570240", []byte("v1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	b, ok, err := r.Get(ctx, "40722570240")
	if err != nil || !ok || string(b) != "v1" {
		t.Fatalf("hit: %q %v %v", b, ok, err)
	}
	ttl, err := client.TTL(ctx, prefix+"40722570240").Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("TTL = %v, %v", ttl, err)
	}
	if err := r.Set(ctx, "zero", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if n, _ := client.Exists(ctx, prefix+"zero").Result(); n != 0 {
		t.Fatal("ttl 0 must store nothing")
	}
	if err := r.Healthy(ctx); err != nil || !r.Up() {
		t.Fatalf("Healthy = %v, Up = %v", err, r.Up())
	}
}

func TestRedisDefaultPrefix(t *testing.T) {
	r := cache.NewRedis(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), cache.RedisOptions{})
	if got := r.Key("123"); got != "hlr:123" {
		t.Fatalf("Key = %q", got)
	}
}

// countingHook counts commands that reach the network layer.
type countingHook struct{ n atomic.Int64 }

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func TestRedisFailsOpenAndLogsTransitionsOnce(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer client.Close()
	hook := &countingHook{}
	client.AddHook(hook)
	var logs bytes.Buffer
	now := time.Unix(1000, 0)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	r := cache.NewRedis(client, cache.RedisOptions{
		Logger:     slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RetryAfter: time.Second,
		Now:        func() time.Time { return *clock.Load() },
	})
	ctx := context.Background()

	for i := 0; i < 5; i++ {
		_, ok, err := r.Get(ctx, "1")
		if ok || !errors.Is(err, cache.ErrUnavailable) {
			t.Fatalf("get %d: ok=%v err=%v", i, ok, err)
		}
		if err := r.Set(ctx, "1", []byte("x"), time.Minute); !errors.Is(err, cache.ErrUnavailable) {
			t.Fatalf("set %d: %v", i, err)
		}
	}
	if r.Up() || r.DownServers() != 1 {
		t.Fatalf("Up = %v, DownServers = %d after failures, want false, 1", r.Up(), r.DownServers())
	}
	if got := hook.n.Load(); got != 1 {
		t.Fatalf("commands sent while down = %d, want 1 (fail fast between probes)", got)
	}
	later := now.Add(2 * time.Second)
	clock.Store(&later)
	// The first call after RetryAfter starts the probe and, like the
	// second, fails at once: the probe runs apart.
	for i := range 2 {
		if _, _, err := r.Get(ctx, "1"); !errors.Is(err, cache.ErrUnavailable) {
			t.Fatalf("get %d after the retry period: %v, want ErrUnavailable", i, err)
		}
	}
	r.WaitProbes()
	if got := hook.n.Load(); got != 2 {
		t.Fatalf("commands after retry period = %d, want 2 (one probe)", got)
	}
	if n := strings.Count(logs.String(), "redis.cache.down"); n != 1 {
		t.Fatalf("down logged %d times, want once:\n%s", n, logs.String())
	}
	if err := r.Healthy(ctx); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Healthy = %v", err)
	}
}

func TestRedisRecoveryIsLogged(t *testing.T) {
	client, prefix := redistest.Client(t)
	var logs bytes.Buffer
	// Simulate an outage with a hook that fails every command while down.
	var down atomic.Bool
	down.Store(true)
	client.AddHook(failingHook{down: &down})
	now := time.Unix(1000, 0)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	r := cache.NewRedis(client, cache.RedisOptions{
		Prefix: prefix,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Now:    func() time.Time { return *clock.Load() },
	})
	ctx := context.Background()
	if _, _, err := r.Get(ctx, "k"); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	down.Store(false)
	later := now.Add(time.Hour)
	clock.Store(&later)
	// The call that finds the probe due starts it and is a miss; the
	// probe brings the cache back.
	if _, _, err := r.Get(ctx, "k"); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("the call that starts the probe: %v, want ErrUnavailable", err)
	}
	r.WaitProbes()
	if _, _, err := r.Get(ctx, "k"); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if !r.Up() || r.DownServers() != 0 {
		t.Fatalf("Up = %v, DownServers = %d after recovery, want true, 0", r.Up(), r.DownServers())
	}
	if n := strings.Count(logs.String(), "redis.cache.up"); n != 1 {
		t.Fatalf("up logged %d times:\n%s", n, logs.String())
	}
}

type failingHook struct{ down *atomic.Bool }

func (h failingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h failingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.down.Load() {
			err := errors.New("connection refused (simulated)")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}
func (h failingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestRedisRefusingWritesStillServesReads: a Redis that answers writes
// with an error (maxmemory with noeviction, a replica) is up: its reads
// still answer lookups. Before, every refused write took the tier down
// for RetryAfter, and with it the reads (billed lookups of cached
// numbers), and logged down and up again every few seconds.
func TestRedisRefusingWritesStillServesReads(t *testing.T) {
	client, prefix := redistest.Client(t)
	ctx := context.Background()
	if err := client.Set(ctx, prefix+"cached", "v0", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	var refuse atomic.Bool
	refuse.Store(true)
	client.AddHook(replyHook{refuse: &refuse, command: "set", reply: "OOM command not allowed when used memory > 'maxmemory'."})
	var logs bytes.Buffer
	r := cache.NewRedis(client, cache.RedisOptions{Prefix: prefix, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	for range 3 {
		if err := r.Set(ctx, "new", []byte("v1"), time.Minute); err == nil || errors.Is(err, cache.ErrUnavailable) {
			t.Fatalf("refused Set: %v, want an error other than ErrUnavailable", err)
		}
		if !r.Up() {
			t.Fatal("down after a refused write")
		}
		if b, ok, err := r.Get(ctx, "cached"); err != nil || !ok || string(b) != "v0" {
			t.Fatalf("Get after a refused write: %q %v %v", b, ok, err)
		}
	}
	refuse.Store(false)
	if err := r.Set(ctx, "new", []byte("v1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	for event, want := range map[string]int{"redis.cache.writes_refused": 1, "redis.cache.writes_accepted": 1, "redis.cache.down": 0} {
		if n := strings.Count(logs.String(), event); n != want {
			t.Errorf("%s logged %d times, want %d:\n%s", event, n, want, logs.String())
		}
	}
}

// replyError is an error reply of Redis (it implements redis.Error).
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

// TestRedisOtherRepliesToAWriteMeanDown: a reply that is not a refusal to
// write (LOADING, too many clients, a failed authentication) says reads
// fail too: the tier goes down as for a transport error, once, rather
// than up at every refused write and down at the next read.
func TestRedisOtherRepliesToAWriteMeanDown(t *testing.T) {
	client, prefix := redistest.Client(t)
	ctx := context.Background()
	var refuse atomic.Bool
	refuse.Store(true)
	client.AddHook(replyHook{refuse: &refuse, reply: "LOADING Redis is loading the dataset in memory"})
	var logs bytes.Buffer
	r := cache.NewRedis(client, cache.RedisOptions{Prefix: prefix, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err := r.Set(ctx, "k", []byte("v"), time.Minute); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Set answered LOADING: %v, want ErrUnavailable", err)
	}
	if r.Up() {
		t.Fatal("up after LOADING")
	}
	if n := strings.Count(logs.String(), "redis.cache.writes_refused"); n != 0 {
		t.Fatalf("LOADING logged as a refused write:\n%s", logs.String())
	}
}

// replyHook answers command (every command when empty) with Redis's
// error reply while refuse is set.
type replyHook struct {
	refuse  *atomic.Bool
	command string
	reply   string
}

func (h replyHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h replyHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.refuse.Load() && (h.command == "" || cmd.Name() == h.command) {
			err := replyError(h.reply)
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}
func (h replyHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
