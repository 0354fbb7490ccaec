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

type tagLease struct {
	rdb redis.UniversalClient
	key string
	id  string
	tag uint16
	log *slog.Logger
	// failures logs a failed refresh when it starts, then at most every
	// 30 s with a count, while Redis stays unreachable.
	failures *logging.Repeats
}

func tagKey(prefix string, n int) string { return prefix + "gw:tag:" + strconv.Itoa(n) }

// randomTag is the tag of an instance without Redis.
func randomTag() uint16 {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint16(b[:]) & 0xFFF
}

// leaseTag takes a free tag, starting from one derived from the instance
// id; the lease's value names this process (tagHolder). Without Redis, or
// when Redis fails, the tag is random and the lease nil.
func leaseTag(ctx context.Context, rdb redis.UniversalClient, prefix, instanceID string, log *slog.Logger) (uint16, *tagLease, error) {
	if rdb == nil {
		return randomTag(), nil, nil
	}
	holder := tagHolder(instanceID)
	h := fnv.New32a()
	_, _ = h.Write([]byte(instanceID))
	start := int(h.Sum32() % tagCount)
	for i := range tagCount {
		n := (start + i) % tagCount
		key := tagKey(prefix, n)
		ok, err := rdb.SetNX(ctx, key, holder, tagLeaseTTL).Result()
		if err != nil {
			return randomTag(), nil, fmt.Errorf("app: instance tag lease: %w", err)
		}
		if ok {
			return uint16(n), &tagLease{rdb: rdb, key: key, id: holder, tag: uint16(n), log: log,
				failures: logging.NewRepeats(log, "gateway.instance_tag_not_refreshed",
					logging.RepeatOptions{Recovered: "gateway.instance_tag_refreshed"})}, nil
		}
	}
	return randomTag(), nil, errors.New("app: instance tag lease: all 4096 tags are leased")
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

// run refreshes the lease until ctx ends. A lease found held by another
// process is logged: both may then mint the same ids.
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
		other, err := l.refresh(rctx)
		cancel()
		if err != nil {
			l.failures.Failed(ctx, "", err, slog.Int("tag", int(l.tag)))
			continue
		}
		l.failures.Succeeded(ctx, "", slog.Int("tag", int(l.tag)))
		if other != "" {
			l.log.Error("gateway.instance_tag_taken", "tag", l.tag, "holder", other,
				"detail", "the lease expired while Redis was unreachable and another instance took the tag: message ids may collide")
		}
	}
}
