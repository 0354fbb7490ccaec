package dlr

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRedisEndedLeaseJoinsExpirySet checks the scripts' reading of a
// receipt's expiry from its encoded body (expiryLua): a receipt leased
// from the fresh list is not in the exp set, and joins it with exactly
// the expiry Go would have written (millisArg) when its lease ends, by a
// claim or a reclaim.
func TestRedisEndedLeaseJoinsExpirySet(t *testing.T) {
	long := strings.Repeat("9", 200) // two-octet length prefixes
	tests := []struct {
		name   string
		expiry time.Time
		edit   func(*Receipt)
	}{
		{"whole ms", t0.Add(time.Hour), nil},
		{"sub-ms", t0.Add(time.Hour + 999_999*time.Nanosecond), nil},
		{"one ns past", t0.Add(time.Hour + time.Nanosecond), nil},
		{"far", time.Date(2200, 12, 31, 23, 59, 59, 999_999_999, time.UTC), nil},
		{"never", time.Time{}, nil},
		{"long fields", t0.Add(90 * time.Minute), func(r *Receipt) { r.Reason, r.Dest.Addr, r.Err = long, long[:150], long[:128] }},
	}
	for _, byReclaim := range []bool{false, true} {
		for _, tt := range tests {
			name := tt.name
			if byReclaim {
				name += "/reclaim"
			}
			t.Run(name, func(t *testing.T) {
				c := redisTestClient(t)
				q := NewRedisQueue(c, RedisOptions{Prefix: redisTestPrefix(t, c)})
				ctx := context.Background()
				r := receipt("EXP0000000000001", "acme", 0)
				r.ExpiresAt = tt.expiry
				if tt.edit != nil {
					tt.edit(&r)
				}
				if err := q.Put(ctx, r); err != nil {
					t.Fatal(err)
				}
				if rs, err := q.Claim(ctx, "acme", t0, time.Minute, 10); err != nil || len(rs) != 1 {
					t.Fatalf("claim = %v %v", rs, err)
				}
				expKey := q.accountKeys("acme")[3]
				if _, err := c.ZScore(ctx, expKey, r.MessageID).Result(); err != redis.Nil {
					t.Fatalf("leased receipt in the exp set: %v", err)
				}
				if byReclaim {
					if _, err := q.reclaim(ctx, "acme", q.o.InstanceID, true); err != nil {
						t.Fatal(err)
					}
				} else if rs, err := q.Claim(ctx, "acme", t0.Add(2*time.Minute), time.Minute, 10); err != nil || len(rs) != 1 {
					t.Fatalf("claim after the lease ended = %v %v", rs, err) // leased again, from the due set
				}
				got, err := c.ZScore(ctx, expKey, r.MessageID).Result()
				if tt.expiry.IsZero() {
					if err != redis.Nil {
						t.Fatalf("never-expiring receipt in the exp set: %v %v", got, err)
					}
					return
				}
				if err != nil || millisArg(millisTime(got)) != millisArg(tt.expiry) {
					t.Fatalf("exp score = %.0f %v, want %s", got, err, millisArg(tt.expiry))
				}
			})
		}
	}
}

// TestRedisExpireKeepsToItsLimit: expired receipts at the head of the
// fresh list and in the exp set (retried) together: one call removes no
// more than its limit (the list's used to come on top of the set's).
func TestRedisExpireKeepsToItsLimit(t *testing.T) {
	c := redisTestClient(t)
	q := NewRedisQueue(c, RedisOptions{Prefix: redisTestPrefix(t, c)})
	ctx := context.Background()
	for i, id := range []string{"EXP0000000000001", "EXP0000000000002", "EXP0000000000003", "EXP0000000000004"} {
		r := receipt(id, "acme", 0)
		r.ExpiresAt = t0.Add(time.Minute)
		if err := q.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
		if i >= 2 { // to the due and exp sets
			if err := q.Retry(ctx, r, t0.Add(30*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, want := range []int{3, 1, 0} {
		rs, err := q.Expire(ctx, t0.Add(2*time.Minute), 3)
		if err != nil || len(rs) != want {
			t.Fatalf("Expire with a limit of 3 removed %v (%v), want %d", ids(rs), err, want)
		}
	}
}
