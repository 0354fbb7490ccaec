package hlr_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

func TestTemporaryAnswers(t *testing.T) {
	tests := []struct {
		name string
		a    hlr.Answer
		want bool
	}{
		{"valid", hlr.Answer{Present: "yes", LineType: "mobile"}, false},
		{"invalid number", hlr.Answer{Status: 1}, false},
		{"unknown subscriber", hlr.Answer{Error: 1, Present: "no"}, false},
		{"unreachable", hlr.Answer{Error: 2, Present: "no"}, true},
		{"absent (switched off)", hlr.Answer{Error: 27, Present: "no"}, true},
		{"busy", hlr.Answer{Error: 31, Present: "no"}, true},
		{"other present no state", hlr.Answer{Error: 5, Present: "no"}, true},
		{"not present, no error", hlr.Answer{Present: "no"}, true},
		{"network not supported", hlr.Answer{Error: 191, Present: "na"}, false},
		{"landline", hlr.Answer{Error: 193, Present: "na", LineType: "fixed"}, false},
		{"presence unknown", hlr.Answer{Present: "na"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := hlr.Classify(tt.a, hlr.DefaultErrCodes())
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Temporary(); got != tt.want {
				t.Fatalf("Temporary() = %v, want %v (%+v)", got, tt.want, r)
			}
		})
	}
}

// ttlRecorder is a cache.Cache that records the lifetime of every Set.
type ttlRecorder[V any] struct {
	mu   sync.Mutex
	ttls map[string]time.Duration
}

func (c *ttlRecorder[V]) Get(context.Context, string) (V, bool, error) {
	var zero V
	return zero, false, nil
}

func (c *ttlRecorder[V]) Set(_ context.Context, key string, _ V, ttl time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ttls == nil {
		c.ttls = map[string]time.Duration{}
	}
	c.ttls[key] = ttl
	return nil
}

// ttl is what key was stored with; -1 when it was never stored (a TTL of
// 0 stored would keep it for ever).
func (c *ttlRecorder[V]) ttl(key string) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.ttls[key]
	if !ok {
		return -1
	}
	return d
}

// TestBothTiersCacheByMeaning: a permanent answer is kept TTL, a
// temporary one TemporaryTTL, in memory and in Redis alike.
func TestBothTiersCacheByMeaning(t *testing.T) {
	absent, err := hlr.Classify(hlr.Answer{Error: 27, Present: "no"}, hlr.DefaultErrCodes())
	if err != nil {
		t.Fatal(err)
	}
	p := &fakeProvider{fn: func(_ context.Context, msisdn string) (hlr.Result, error) {
		if msisdn == "40722570227" {
			return absent, nil
		}
		return invalidResult(), nil
	}}
	tests := []struct {
		name          string
		ttl, tempTTL  time.Duration
		permanent     time.Duration
		wantTemporary time.Duration // -1: not stored
	}{
		{"defaults", 24 * time.Hour, 15 * time.Minute, 24 * time.Hour, 15 * time.Minute},
		{"temporary not cached", 24 * time.Hour, 0, 24 * time.Hour, -1},
		{"temporary capped by TTL", time.Minute, time.Hour, time.Minute, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem, red := &ttlRecorder[hlr.Result]{}, &ttlRecorder[[]byte]{}
			c := newChain(t, p, hlr.ChainOptions{Memory: mem, Redis: red, TTL: tt.ttl, TemporaryTTL: tt.tempTTL,
				Now: func() time.Time { return time.Unix(1_800_000_000, 0) }})
			for _, n := range []string{"40722570240999", "40722570227"} {
				if _, err := c.Lookup(context.Background(), n); err != nil {
					t.Fatal(err)
				}
			}
			for tier, got := range map[string]func(string) time.Duration{"memory": mem.ttl, "redis": red.ttl} {
				if g := got("40722570240999"); g != tt.permanent {
					t.Errorf("%s: invalid number kept %v, want %v", tier, g, tt.permanent)
				}
				if g := got("40722570227"); g != tt.wantTemporary {
					t.Errorf("%s: absent kept %v, want %v", tier, g, tt.wantTemporary)
				}
			}
		})
	}
}
