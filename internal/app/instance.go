package app

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/logging"
)

// Instance tag leases: the 12-bit tag in message ids must differ between
// processes minting ids at the same time. With Redis, each process leases
// one of the 4096 tags (key <prefix>gw:tag:<n>, value INSTANCE_ID plus a
// random per-process suffix, with a TTL its heartbeat keeps refreshing); a
// dead process's tag becomes free once its lease expires. The holder is the
// process, not the instance: a restarted instance whose old process is
// still draining must not mint ids with that process's tag. A counter
// modulo 4096 would hand a live instance's tag to the 4097th start.
const (
	tagLeaseTTL     = 30 * time.Second
	tagLeaseRefresh = 5 * time.Second
	tagCount        = 4096
)

// tagLease is this process's tag and its lease. A process that found
// Redis unreachable at start mints ids with a random tag it does not hold
// (key ""); its heartbeat leases that tag as soon as Redis answers, or,
// when another process holds it by then, leases a free one and switches
// the id generator to it (setTag). Likewise when its lease lapsed while
// Redis was unreachable and another process took the tag. Until then the
// two may mint the same ids; from then on they cannot.
type tagLease struct {
	rdb      redis.UniversalClient
	prefix   string
	instance string // INSTANCE_ID, where a new tag search starts
	key      string // "" while the tag is not leased
	id       string
	tag      uint16
	setTag   func(uint16) // the id generator's; nil until it exists
	log      *slog.Logger
	// failures logs a failed refresh when it starts, then at most every
	// 30 s with a count, while Redis stays unreachable.
	failures *logging.Repeats
	// takenBy is the holder last reported taking the tag in use: the
	// ERROR is logged once per holder, not at every step while no free
	// tag can be leased.
	takenBy string
}

func tagKey(prefix string, n int) string { return prefix + "gw:tag:" + strconv.Itoa(n) }

// randomTag is the tag of an instance without Redis.
func randomTag() uint16 {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint16(b[:]) & 0xFFF
}

// leaseTag takes a free tag, starting from one derived from the instance
// id; the lease's value names this process (tagHolder). Without Redis the
// tag is random and the lease nil. When Redis fails (or holds no free
// tag), the tag is random too, with a lease not yet taken: its run takes
// one once Redis answers (see tagLease).
func leaseTag(ctx context.Context, rdb redis.UniversalClient, prefix, instanceID string, log *slog.Logger) (uint16, *tagLease, error) {
	if rdb == nil {
		return randomTag(), nil, nil
	}
	l := &tagLease{rdb: rdb, prefix: prefix, instance: instanceID, id: tagHolder(instanceID), log: log,
		failures: logging.NewRepeats(log, "gateway.instance_tag_not_refreshed",
			logging.RepeatOptions{Recovered: "gateway.instance_tag_refreshed"})}
	n, err := l.leaseFree(ctx, -1)
	if err != nil {
		l.tag = randomTag()
		return l.tag, l, err
	}
	l.tag, l.key = uint16(n), tagKey(prefix, n)
	return l.tag, l, nil
}

// leaseFree leases a free tag other than skip for this process, starting
// from the one the instance id names.
func (l *tagLease) leaseFree(ctx context.Context, skip int) (int, error) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(l.instance))
	start := int(h.Sum32() % tagCount)
	for i := range tagCount {
		n := (start + i) % tagCount
		if n == skip {
			continue
		}
		ok, err := l.rdb.SetNX(ctx, tagKey(l.prefix, n), l.id, tagLeaseTTL).Result()
		if err != nil {
			return 0, fmt.Errorf("app: instance tag lease: %w", err)
		}
		if ok {
			return n, nil
		}
	}
	return 0, errors.New("app: instance tag lease: all 4096 tags are leased")
}

// tagHolder is the value of this process's tag lease: the instance id, for
// operators reading Redis, and a random suffix naming the process.
func tagHolder(instanceID string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return instanceID + "/" + hex.EncodeToString(b[:])
}

// refreshTagLua extends the lease only while this process holds it (or
// nobody does): a GET then SET from the client could overwrite a lease
// another process took between the two. Returns "" when refreshed, else
// the holder found.
var refreshTagLua = redis.NewScript(`
local h = redis.call('GET', KEYS[1])
if h and h ~= ARGV[1] then return h end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ''`)

// refresh extends this process's lease by tagLeaseTTL in one atomic step.
// It returns the other holder when the lease was taken meanwhile (this
// process could not refresh it for tagLeaseTTL), and leaves that lease
// alone.
func (l *tagLease) refresh(ctx context.Context) (other string, err error) {
	other, err = refreshTagLua.Run(ctx, l.rdb, []string{l.key}, l.id, tagLeaseTTL.Milliseconds()).Text()
	if err != nil {
		return "", fmt.Errorf("app: instance tag lease refresh: %w", err)
	}
	return other, nil
}

// run keeps the lease until ctx ends: it refreshes it, and takes one
// when the process holds none (step).
func (l *tagLease) run(ctx context.Context) {
	t := time.NewTicker(tagLeaseRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, tagLeaseRefresh)
		l.step(rctx)
		cancel()
	}
}

// step refreshes the lease of the tag ids are minted with; when another
// process holds that tag (this one started without Redis, or its lease
// lapsed while Redis was unreachable), it leases a free tag and switches
// the id generator to it, logging both.
func (l *tagLease) step(ctx context.Context) {
	if l.key == "" {
		l.key = tagKey(l.prefix, int(l.tag)) // try the tag in use first
	}
	other, err := l.refresh(ctx)
	if err != nil {
		l.failures.Failed(ctx, "", err, slog.Int("tag", int(l.tag)))
		return
	}
	l.failures.Succeeded(ctx, "", slog.Int("tag", int(l.tag)))
	if other == "" {
		return
	}
	if other != l.takenBy {
		l.takenBy = other
		l.log.Error("gateway.instance_tag_taken", "tag", l.tag, "holder", other,
			"detail", "another process holds the tag this one minted message ids with while Redis was unreachable: ids minted meanwhile may collide; switching to a free tag")
	}
	n, err := l.leaseFree(ctx, int(l.tag))
	if err != nil {
		l.failures.Failed(ctx, "", err, slog.Int("tag", int(l.tag)))
		return // tried again at the next step
	}
	old := l.tag
	l.tag, l.key, l.takenBy = uint16(n), tagKey(l.prefix, n), ""
	if l.setTag != nil {
		l.setTag(l.tag)
	}
	l.log.Warn("gateway.instance_tag_changed", "tag", l.tag, "previous", old)
}
