package dlr

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/logging"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/redisconn"
)

// RedisQueue defaults.
const (
	DefaultRedisPrefix = "dlr:"
	DefaultRemember    = 10 * time.Minute
	// DefaultCommitTimeout bounds one group commit (and its WAIT).
	DefaultCommitTimeout = 2 * time.Second
	// DefaultHeartbeat is how long an instance counts as alive after its
	// last heartbeat.
	DefaultHeartbeat = 6 * time.Second
	// DefaultSlowAfter is RedisOptions.SlowAfter's default (REDIS_SLOW_MS).
	DefaultSlowAfter = 50 * time.Millisecond
	// doneBuckets is how many time buckets hold the outcomes remembered
	// for Remember: each covers Remember/doneBuckets.
	doneBuckets = 10
	// listRetryAfter is how long commits skip Paccounts after it failed.
	listRetryAfter = 5 * time.Second
)

// RedisOptions tunes a RedisQueue. The zero value gives the defaults.
type RedisOptions struct {
	// Prefix is prepended to every key (default "dlr:"). Instances sharing
	// receipts use the same prefix; tests use a unique one.
	Prefix string
	// Remember is how long the outcome of a removed receipt stays
	// available to Lookup (query_sm), default 10 minutes.
	Remember time.Duration
	// CommitTimeout bounds one group commit, WAIT included (default 2 s).
	CommitTimeout time.Duration
	// WaitReplicas > 0 ends every group commit with WAIT WaitReplicas
	// WaitTimeout on each master written to; a Put succeeds only when
	// that many replicas acknowledged the write (REDIS_WAIT_REPLICAS).
	WaitReplicas int
	// WaitTimeout is WAIT's timeout (REDIS_WAIT_TIMEOUT_MS, default 100 ms).
	WaitTimeout time.Duration
	// Lost counts receipts Redis lost (an account's epoch marker gone) and
	// bodies set aside as undecodable; nil: not counted.
	Lost   *LossCounter
	Logger *slog.Logger // nil: discard
	// InstanceID names this instance's leases (INSTANCE_ID): an instance
	// started again with the same id takes its leases back at once
	// (TakeBackLeases); others take them when its heartbeat, written by
	// Maintain, has expired. Empty: a random id.
	InstanceID string
	// Heartbeat is how long the instance counts as alive after a Maintain
	// (default 6 s). Every instance is taken to write its heartbeat at
	// least every third of it (the application sweeps every 2 s).
	Heartbeat time.Duration
	// Clock times how long another instance's heartbeat has been missing
	// (nil: SystemClock). The queue's other times are scores in Redis,
	// compared across instances: the wall clock.
	Clock Clock
	// LossSettle is how long after an instance adds its share of a loss
	// of an account's keys to the loss record the loss is reported
	// (losssettle.go; default DefaultLossSettle).
	LossSettle time.Duration
	// SlowAfter is how long a committer waits for one Cluster master's
	// share of a batch before leaving it to run in the master's lane
	// (lane.go; REDIS_SLOW_MS, default DefaultSlowAfter; at most a
	// quarter of CommitTimeout).
	SlowAfter time.Duration
	// Registerer exports dlr_commit_backlog,
	// dlr_lost_claims_forgotten_total and dlr_redis_went_back_total (nil:
	// not exported).
	Registerer prometheus.Registerer
}

// RedisQueue is a Queue in Redis, durable and shared by every gateway
// instance using the same prefix. It works with a standalone server,
// Sentinel or Cluster (redis.UniversalClient). Every key of an account
// carries the hash tag {system_id}, and every write of a receipt is one
// Lua script or one MULTI/EXEC on those keys, so a receipt is stored in
// its account's slot atomically or not at all, and one failed shard only
// stops the accounts it holds. Key layout, per prefix P and account tag T:
//
//	P{T}:r        hash: message id → encoded receipt (the pending index)
//	P{T}:fresh    list: "due_ms|exp_ms|id" of receipts never claimed, in submit order
//	P{T}:due      sorted set: id → due time or lease end (unix ms) of claimed/retried receipts
//	P{T}:exp      sorted set: id → expiry (unix ms) of the receipts in :due
//	P{T}:done:<n>:<id but its last character> hash: that character → "<state>:<unix ms>",
//	              outcomes by time bucket (doneKey)
//	P{T}:epoch    marker written with the first receipt; its loss means Redis lost the account
//	P{T}:bad      hash: id → body that did not decode (set aside)
//	Paccounts     set of accounts (for the expiry sweep; best effort, cached locally)
//
// A pending receipt costs one hash field and one list element until it is
// claimed. See docs/receipts.md.
type RedisQueue struct {
	c        redis.UniversalClient
	prefix   string
	remember time.Duration
	o        RedisOptions
	log      *slog.Logger
	listLog  *logging.Repeats // dlr.accounts_set_not_updated: once per outage, then every 30 s
	s        redisScripts
	put      groupCommit
	// plainPuts: a single server or Sentinel (one connection's pipeline
	// takes a transaction), where puts in due order are transactions of
	// plain commands (putTx) rather than scripts.
	plainPuts bool
	claims    *claimLeases // lease ends of claims, to take back one without a reply
	// forgotten counts lease ends of claims without a reply that claims
	// forgot past maxLostClaims (nil: not exported); forgetLog logs them.
	forgotten prometheus.Counter
	forgetLog *logging.Repeats
	// wentBack counts the times Redis went back in time (wentback.go;
	// nil: not exported); replayed, the receipts put again then
	// (replay.go).
	wentBack, replayed prometheus.Counter

	mu     sync.Mutex
	epochs map[string]string      // account → epoch marker last seen
	shares map[string]*lossShares // account → its counts and this instance's writes, for a loss
	// losses: this instance's shares of losses of accounts' keys, until
	// they are settled (losssettle.go).
	losses []pendingLoss
	// putReplies counts the put replies recorded (recordGroups): a put
	// built when it was n and a reply recorded as a later number were in
	// flight together (tookPut).
	putReplies uint64
	listed     map[string]bool // account added to Paccounts by this process
	// unlisted: accounts with stored receipts whose addition to Paccounts
	// failed or waits for listRetry; every commit and sweep tries again.
	unlisted map[string]struct{}
	// listRetry: adding to Paccounts failed; not tried again before then.
	listRetry time.Time
	// listing: closed when the addition to Paccounts under way ends (nil:
	// none is; listAccounts).
	listing  chan struct{}
	newEpoch string // the epoch marker a script creates when the account has none (q.mu)
	// wentBack: per account, when this instance last found Redis going
	// back and the marker it wrote to tell the others (wentback.go).
	wentBackAt map[string]wentBackMark
	// journal: what this instance's puts stored lately, put again should
	// Redis go back (replay.go); replayTo takes them (nil: not kept).
	journal  replayJournal
	replayTo replayer
	// missing: when a Maintain first found the heartbeat of another
	// instance gone (deadOrMissing), until one finds it again; a Maintain
	// that checked every lessee drops the instances it did not meet, so
	// it holds no more than the lessees of one sweep.
	missing map[string]time.Time
	// process tells this process's heartbeats from those of another
	// process with the same InstanceID (a restart overlapping the old
	// one's drain): GiveBackLeases.
	process string
}

var _ Queue = (*RedisQueue)(nil)

// NewRedisQueue returns a queue on c. The client is not closed by the queue.
func NewRedisQueue(c redis.UniversalClient, opts RedisOptions) *RedisQueue {
	if opts.Prefix == "" {
		opts.Prefix = DefaultRedisPrefix
	}
	if opts.Remember <= 0 {
		opts.Remember = DefaultRemember
	}
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = DefaultCommitTimeout
	}
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = 100 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.InstanceID == "" {
		opts.InstanceID = "anon-" + randomToken()[:8]
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.LossSettle <= 0 {
		opts.LossSettle = DefaultLossSettle
	}
	if opts.SlowAfter <= 0 {
		opts.SlowAfter = DefaultSlowAfter
	}
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
	}
	_, plain := c.(*redis.Client)
	q := &RedisQueue{
		process:   randomToken(),
		plainPuts: plain,
		c:         c, prefix: opts.Prefix, remember: opts.Remember, o: opts, log: opts.Logger,
		listLog:    logging.NewRepeats(opts.Logger, "dlr.accounts_set_not_updated", logging.RepeatOptions{}),
		s:          newRedisScripts(),
		claims:     newClaimLeases(),
		forgetLog:  logging.NewRepeats(opts.Logger, "dlr.lost_claims_forgotten", logging.RepeatOptions{}),
		epochs:     make(map[string]string),
		shares:     make(map[string]*lossShares),
		wentBackAt: make(map[string]wentBackMark),
		listed:     make(map[string]bool),
		unlisted:   make(map[string]struct{}),
		newEpoch:   randomToken(),
	}
	q.registerMetrics(opts.Registerer)
	return q
}

// registerMetrics exports how many receipts and outcome records wait for
// Redis in the group commit: while Redis is slow it grows, and every new
// receipt in it holds its submit_sm_resp (the others are the outage
// buffer's write-back).
func (q *RedisQueue) registerMetrics(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dlr_commit_backlog",
		Help: "Receipts and outcome records handed to the group commit and not yet answered by Redis (a new receipt's submit_sm_resp waits for it).",
	}, func() float64 { return float64(q.put.backlog()) })
	forgotten := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dlr_lost_claims_forgotten_total",
		Help: "Claims without a reply (timeout, cut connection, failover) beyond the 64 per account remembered for the next sweep to take back: their receipts wait for DLR_VISIBILITY_TIMEOUT_SECONDS instead.",
	})
	wentBack := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dlr_redis_went_back_total",
		Help: "Times a put or count of an account found this instance's put number for it below one Redis had acknowledged: Redis lost acknowledged writes (an older snapshot, or a failover to a replica that lagged) while the account's marker stayed.",
	})
	replayed := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dlr_replayed_total",
		Help: "Receipts this instance stored in Redis and put again (through the outage buffer) after finding that Redis went back below their puts (dlr_redis_went_back_total).",
	})
	journal := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dlr_replay_journal_receipts",
		Help: "Receipts this instance stored in Redis and keeps to put again should Redis go back in time: at most DLR_BUFFER_SIZE, for a minute.",
	}, func() float64 { return float64(q.journal.held.Load()) })
	unsettled := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dlr_losses_unsettled",
		Help: "Losses of an account's keys in Redis this instance found and has not seen reported yet: the instances' shares are summed in Redis first, and the sum reported within about 8 s. At most 1024.",
	}, func() float64 { return float64(q.unsettledLosses()) })
	lanes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dlr_commit_lanes",
		Help: "Redis Cluster masters whose receipts are written by a lane of their own instead of the group commit: the master did not answer a commit within 50 ms, or is taken to be hung. At most one per master.",
	}, func() float64 { return float64(q.put.laneCount()) })
	for _, c := range []prometheus.Collector{g, forgotten, wentBack, replayed, journal, unsettled, lanes} {
		if err := reg.Register(c); err != nil {
			q.log.Error("dlr.metric_not_registered", "err", err)
			return
		}
	}
	q.forgotten, q.wentBack, q.replayed = forgotten, wentBack, replayed
}

// accountBase returns "P{tag}:" for sys.
func (q *RedisQueue) accountBase(sys string) string {
	return q.prefix + "{" + accountTag(sys) + "}:"
}

// accountTag is sys as the hash tag of its keys: itself, or "x" and its
// hex digits when it holds a brace (the tag must be well formed), and
// also when it is itself what an escaped system_id looks like, so that no
// two accounts share keys ("{a}" escapes to x7b617d; an account named
// x7b617d must not read its receipts). The escape applies to exactly
// the ids needsEscape says, and a plain tag never needs it, so the map
// is one to one.
func accountTag(sys string) string {
	if needsEscape(sys) {
		return "x" + hex.EncodeToString([]byte(sys))
	}
	return sys
}

// needsEscape: sys holds a brace, or is "x" + the hex digits of an id
// that needs escaping (lower case, as accountTag writes them).
func needsEscape(sys string) bool {
	if strings.ContainsAny(sys, "{}") {
		return true
	}
	rest, ok := strings.CutPrefix(sys, "x")
	if !ok || rest == "" || rest != strings.ToLower(rest) {
		return false
	}
	inner, err := hex.DecodeString(rest)
	return err == nil && needsEscape(string(inner))
}

// accountKeys returns the r, fresh, due and exp keys of sys.
func (q *RedisQueue) accountKeys(sys string) []string {
	base := q.accountBase(sys)
	return []string{base + "r", base + "fresh", base + "due", base + "exp"}
}

func (q *RedisQueue) epochKey(sys string) string { return q.accountBase(sys) + "epoch" }

// countSeqKey holds the number of the account's last count (countLua).
func (q *RedisQueue) countSeqKey(sys string) string { return q.accountBase(sys) + "countseq" }
func (q *RedisQueue) leaseKey(sys, instance string) string {
	return q.accountBase(sys) + "lease:" + instance
}
func (q *RedisQueue) lesseesKey(sys string) string { return q.accountBase(sys) + "lessees" }

// ownPutsKey holds this instance's put number for sys (ownPutsLua).
func (q *RedisQueue) ownPutsKey(sys string) string {
	return q.accountBase(sys) + "puts:" + q.o.InstanceID
}
func (q *RedisQueue) heartbeatKey(instance string) string { return q.prefix + "instance:" + instance }
func (q *RedisQueue) badKey(sys string) string            { return q.accountBase(sys) + "bad" }
func (q *RedisQueue) accountsKey() string                 { return q.prefix + "accounts" }

// bucketWidth is the time one done bucket covers.
func (q *RedisQueue) bucketWidth() int64 { return max(q.remember.Milliseconds()/doneBuckets, 1) }

// doneBucket returns the done key for outcomes recorded at t (the wall
// clock, not the outcome's time) and when it may expire (unix ms): once
// every outcome in it is older than Remember.
func (q *RedisQueue) doneBucket(sys string, t time.Time) (string, int64) {
	w := q.bucketWidth()
	n := t.UnixMilli() / w
	return q.accountBase(sys) + "done:" + strconv.FormatInt(n, 10), (n+1)*w + q.remember.Milliseconds()
}

// doneKey returns the key and field of id's outcome in bucket (doneAt in
// the scripts): the key is the bucket and the id without its last
// character, the field that character. Ids that count up, as the
// gateway's do (16 hex digits), share a key sixteen at a time: a hash that
// small stays a listpack, about half the memory per outcome of one field
// in a large hash, and an ack's outcomes go to a few small hashes written
// in one go instead of each adding an entry to a hash that grows all
// bucket long (each entry allocated, the table rehashed as it doubles):
// about a third less of Redis's CPU per outcome. An id that shares no
// prefix with others costs a key of its own; correct, only larger.
func doneKey(bucket, id string) (key, field string) {
	part, field := doneSplit(id)
	return donePartKey(bucket, part), field
}

// donePartKey is the done key of bucket holding the ids whose part
// (doneSplit) is part: callers that split ids once, to sort them by key,
// build the key from the part.
func donePartKey(bucket, part string) string { return bucket + ":" + part }

// doneSplit returns id's part of its done key and its field there: all
// but its last character, and that character.
func doneSplit(id string) (part, field string) {
	if id == "" {
		return "", ""
	}
	return id[:len(id)-1], id[len(id)-1:]
}

// doneKeys returns every bucket that may hold an outcome reached up to
// Remember before now, newest first.
func (q *RedisQueue) doneKeys(sys string, now time.Time) []string {
	w := q.bucketWidth()
	n := now.UnixMilli() / w
	base := q.accountBase(sys) + "done:"
	out := make([]string, 0, doneBuckets+2)
	for i := int64(0); i <= doneBuckets+1; i++ {
		out = append(out, base+strconv.FormatInt(n-i, 10))
	}
	return out
}

// finalValue is "<state>:<unix ms>".
func finalValue(o Outcome) string {
	return strconv.Itoa(int(o.State)) + ":" + strconv.FormatInt(o.At.UnixMilli(), 10)
}

// callCtx bounds one call on a key outside the accounts' slots (the
// accounts set, the instances' heartbeats) by CommitTimeout within ctx:
// on a Cluster the master holding it may hang while the others answer,
// and the Redis client would try the call again until ctx ends, leaving
// nothing of it for the healthy masters' accounts.
func (q *RedisQueue) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, q.o.CommitTimeout)
}

func redisErr(op string, err error) error { return fmt.Errorf("dlr: redis %s: %w", op, err) }
func scoreMillis(t time.Time) int64       { return unixNano(t) / int64(time.Millisecond) }
func millisTime(ms float64) time.Time     { return time.UnixMilli(int64(ms)).UTC() }

// neverMillis is the expiry argument of a receipt that never expires.
const neverMillis = "9999999999999"

// millisArg formats t as the scripts' 13-digit unix milliseconds (fixed
// width, so that the scripts compare times as strings).
func millisArg(t time.Time) string {
	var b [20]byte
	return string(appendMillis(b[:0], t))
}

// expiryArg is the expiry argument of the scripts: neverMillis for never.
func expiryArg(r Receipt) string {
	if r.ExpiresAt.IsZero() {
		return neverMillis
	}
	return millisArg(r.ExpiresAt)
}

// Claim leases up to max due receipts of systemID (one Lua script, then
// the bodies by HMGET). A
// body that does not decode is set aside (P{T}:bad), counted and logged;
// the others are returned.
func (q *RedisQueue) Claim(ctx context.Context, systemID string, now time.Time, lease time.Duration, max int) ([]Receipt, error) {
	rs, _, _, err := q.ClaimNext(ctx, systemID, now, lease, max)
	return rs, err
}

// ClaimNext is Claim that also returns the account's next due time after
// the claim (NextDue), from the same script.
func (q *RedisQueue) ClaimNext(ctx context.Context, systemID string, now time.Time, lease time.Duration, max int) ([]Receipt, time.Time, bool, error) {
	if max <= 0 {
		due, ok, err := q.NextDue(ctx, systemID)
		return nil, due, ok, err
	}
	keys := q.claimKeys(systemID)
	until := now.Add(lease).UnixMilli()
	if until <= now.UnixMilli() {
		until = now.UnixMilli() + 1
	}
	until = q.claims.next(systemID, until)
	ids, next, err := q.leaseDue(ctx, systemID, keys, now, until, max)
	if err != nil {
		// The script may have run: its leases are taken back by the
		// next sweep (Maintain). Not when Redis refused it (a slot being
		// migrated answers TRYAGAIN): nothing was leased, and counting
		// it would report claims forgotten that never leased anything.
		// The client's own retry after a cut connection can end in such
		// a refusal although the first try ran; its leases then wait for
		// the visibility timeout, as they do when that retry succeeds.
		if !redisconn.NotRun(err) {
			q.claimFailed(ctx, systemID, until)
		}
		return nil, time.Time{}, false, redisErr("claim", err)
	}
	if len(ids) == 0 {
		return nil, next, !next.IsZero(), nil
	}
	bodies, err := q.claimBodies(ctx, keys[0], ids)
	if err != nil {
		// Leased: taken back by the next sweep (Maintain).
		q.claimFailed(ctx, systemID, until)
		return nil, time.Time{}, false, redisErr("claim bodies", err)
	}
	return q.decodeClaimed(ctx, systemID, ids, bodies), next, !next.IsZero(), nil
}

// claimKeys are the claim script's keys: the account's, this instance's
// lease set, the lessees.
func (q *RedisQueue) claimKeys(systemID string) []string {
	return append(q.accountKeys(systemID), q.leaseKey(systemID, q.o.InstanceID), q.lesseesKey(systemID))
}

// leaseDue runs the claim script on keys (claimKeys): it leases up to max
// due receipts until the unix ms until and returns their ids and the
// account's next due time (zero for none).
func (q *RedisQueue) leaseDue(ctx context.Context, systemID string, keys []string, now time.Time, until int64, max int) ([]string, time.Time, error) {
	ids, err := q.claimStrings(ctx, keys, millisArg(now), until, max, q.o.InstanceID, q.leaseKey(systemID, ""), millisArg(now.Add(time.Millisecond)))
	if err != nil {
		return nil, time.Time{}, err
	}
	var next time.Time
	if len(ids) > 0 {
		if ms, err := strconv.ParseFloat(ids[len(ids)-1], 64); err == nil {
			next = millisTime(ms)
		}
		ids = ids[:len(ids)-1]
	}
	return ids, next, nil
}

// claimStrings runs the claim script (by hash; by text after NOSCRIPT)
// and reads its reply as strings: go-redis's StringSliceCmd reads each
// element straight into a string, where Cmd.StringSlice boxes each in an
// interface first.
func (q *RedisQueue) claimStrings(ctx context.Context, keys []string, args ...any) ([]string, error) {
	run := func(eval, script string) *redis.StringSliceCmd {
		a := make([]any, 0, 3+len(keys)+len(args))
		a = append(a, eval, script, len(keys))
		for _, k := range keys {
			a = append(a, k)
		}
		cmd := redis.NewStringSliceCmd(ctx, append(a, args...)...)
		_ = q.c.Process(ctx, cmd)
		return cmd
	}
	cmd := run("evalsha", q.s.claim.Hash())
	if isNoScript(cmd.Err()) {
		cmd = run("eval", claimLua)
	}
	return cmd.Result()
}

// claimBodies reads the bodies of claimed ids (HMGET, as strings; "" for
// a body that is gone).
func (q *RedisQueue) claimBodies(ctx context.Context, r string, ids []string) ([]string, error) {
	a := make([]any, 0, 2+len(ids))
	a = append(a, "hmget", r)
	for i := range ids {
		a = append(a, &ids[i]) // *string: no allocation per id
	}
	cmd := redis.NewStringSliceCmd(ctx, a...)
	_ = q.c.Process(ctx, cmd)
	bodies, err := cmd.Result()
	if err == nil && len(bodies) != len(ids) {
		err = fmt.Errorf("%w: %d bodies for %d ids", ErrCorrupt, len(bodies), len(ids))
	}
	return bodies, err
}

// decodeClaimed decodes the claimed bodies. An id the HMGET found no
// body for loses its lease only where the master holds no body either
// (unleaseGoneLua): a cancelled receipt's list element. An undecodable
// body is set aside.
func (q *RedisQueue) decodeClaimed(ctx context.Context, sys string, ids, bodies []string) []Receipt {
	out := make([]Receipt, 0, len(ids))
	var gone []any
	for i, id := range ids {
		if bodies[i] == "" {
			gone = append(gone, &ids[i])
			continue
		}
		r, err := decodeReceipt(bodies[i])
		if err == nil && r.MessageID == id {
			out = append(out, r)
			continue
		}
		q.setAside(ctx, sys, id, bodies[i], err)
	}
	if len(gone) > 0 {
		// Best effort: a lease left behind ends by itself, and the claim
		// after that drops an id whose body is gone.
		keys := []string{q.leaseKey(sys, q.o.InstanceID), q.accountKeys(sys)[0]}
		if err := q.s.unleaseGone.Run(ctx, q.c, keys, gone...).Err(); err != nil {
			q.log.Debug("dlr.lease_not_ended", "system_id", sys, "receipts", len(gone), "err", err)
		}
	}
	return out
}

// setAside moves an undecodable receipt out of the way, once.
func (q *RedisQueue) setAside(ctx context.Context, sys, id, body string, cause error) {
	k := q.accountKeys(sys)
	n, err := q.s.setAside.Run(ctx, q.c, []string{k[0], k[2], k[3], q.badKey(sys), q.leaseKey(sys, q.o.InstanceID)}, id).Int()
	if err != nil {
		q.log.Warn("dlr.corrupt_receipt_not_set_aside", "system_id", sys, "message_id", id, "err", err)
		return
	}
	if n == 1 {
		q.o.Lost.add(LostCorrupt, 1)
		q.log.Error("dlr.corrupt_receipt_set_aside", "system_id", sys, "message_id", id,
			"key", q.badKey(sys), "bytes", len(body), "err", fmt.Sprint(cause))
	}
}

// Ack removes the receipts and records o under their ids: one transaction
// of plain commands (redistx.go; when Redis refuses it, e.g. at maxmemory,
// the scripts instead), or on a Cluster client, when they belong
// to several accounts, one script per account in one pipeline per
// master. On a Cluster it is bounded by CommitTimeout as well as ctx.
func (q *RedisQueue) Ack(ctx context.Context, o Outcome, rs ...Receipt) error {
	if len(rs) == 0 {
		return nil
	}
	byAccount := make(map[string][]any, 1)
	for i := range rs {
		sys := rs[i].SystemID
		ids := byAccount[sys]
		if ids == nil && len(byAccount) == 0 {
			ids = make([]any, 0, len(rs)) // mostly one account: all of it at once
		}
		// As *string: boxing the id itself allocates per receipt; rs
		// outlives the commands.
		byAccount[sys] = append(ids, &rs[i].MessageID)
	}
	if _, cluster := q.c.(*redis.ClusterClient); cluster {
		// Bounded as a commit is: an ack that takes an account of a
		// master that has just hung holds the dispatcher shard's answers
		// (their places among the deliver_sm in flight) only that long,
		// not the caller's whole operation timeout, in which the Redis
		// client tries the timed-out commands again.
		var cancel context.CancelFunc
		ctx, cancel = q.callCtx(ctx)
		defer cancel()
	}
	// One connection (a Client) takes every account in one transaction;
	// a Cluster client's transaction takes one slot, one account.
	if _, single := q.c.(*redis.Client); len(byAccount) == 1 || single {
		res, err := q.ackTx(ctx, o, byAccount)
		if err == nil {
			q.recordAcks(res)
			return nil
		}
		if !refusedByServer(err) {
			return redisErr("ack", err)
		}
		// Redis answered and refused: above maxmemory (noeviction) it
		// refuses every write queued in a transaction, so the ack that
		// would free memory could never run. A script whose first write
		// is the HDEL is let through: fall back on the scripts below
		// (finishing twice is harmless).
	}
	// Several accounts: one pipeline per master at once (eachMaster),
	// on the Cluster client, which follows a redirection should the slot
	// have moved meanwhile; off a Cluster one pipeline.
	accounts := slices.Collect(maps.Keys(byAccount))
	if err := q.eachMaster(ctx, accounts, func(idx []int) error {
		accts := make(map[string][]any, len(idx))
		for _, i := range idx {
			accts[accounts[i]] = byAccount[accounts[i]]
		}
		errs, done := q.finishPipeline(ctx, q.c, o, accts)
		q.recordAcks(done)
		return errors.Join(errs...)
	}); err != nil {
		return redisErr("ack", err)
	}
	return nil
}

// finishPipeline runs finishLua for each account of byAccount in one
// pipeline on c, by hash, then by text once more if Redis lost its script
// cache (finishing twice is harmless). It returns the errors and, for
// each account whose receipts it finished, how many were pending (the
// count number and marker unknown: after the last count seen).
func (q *RedisQueue) finishPipeline(ctx context.Context, c redis.Cmdable, o Outcome, byAccount map[string][]any) ([]error, map[string]ackResult) {
	var errs []error
	done := make(map[string]ackResult, len(byAccount))
	for _, byHash := range []bool{true, false} {
		errs = errs[:0]
		clear(done)
		noScript := false
		_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
			syss := make([]string, 0, len(byAccount))
			cmds := make([]*redis.Cmd, 0, len(byAccount))
			for sys, ids := range byAccount {
				syss = append(syss, sys)
				cmds = append(cmds, q.finish(ctx, p, sys, o, byHash, ids...))
			}
			_, err := p.Exec(ctx)
			for i, c := range cmds {
				if err := c.Err(); err != nil {
					noScript = noScript || isNoScript(err)
					errs = append(errs, err)
					continue
				}
				n, _ := c.Val().(int64)
				done[syss[i]] = ackResult{removed: int(n), seq: -1}
			}
			if len(cmds) == 0 && err != nil {
				errs = append(errs, err)
			}
			return nil
		})
		if !noScript {
			break
		}
	}
	return errs, done
}

// recordAcks records what an ack removed (ackTx, or finishPipeline's
// scripts, which read no marker), after taking the epoch marker each
// account's transaction read: an instance that only acknowledges an
// account's receipts (its clients submit through another instance) knows
// the marker, and so finds a loss of the account's keys and its share of
// it (epochSeenLocked), as one that stores or counts does.
func (q *RedisQueue) recordAcks(res map[string]ackResult) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	for sys, r := range res {
		if r.epoch != "" {
			q.epochSeenLocked(sys, r.epoch, false)
		}
		q.shareLocked(sys).wrote(r.seq, -r.removed, now)
	}
}

// removed records n receipts of sys removed from Redis after count seq
// (-1: the last seen) by an expiry or a cancel.
func (q *RedisQueue) removed(sys string, seq int64, n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shareLocked(sys).wrote(seq, -n, time.Now())
}

// shareLocked is sys's lossShares, made when new.
func (q *RedisQueue) shareLocked(sys string) *lossShares {
	s := q.shares[sys]
	if s == nil {
		s = &lossShares{}
		q.shares[sys] = s
	}
	return s
}

// markerLocked is the epoch marker a script writes for sys when the
// account has none (markerFor).
func (q *RedisQueue) markerLocked(sys string) string { return markerFor(q.newEpoch, q.shares[sys]) }

// finish runs finishLua: by Run (hash, then text on NOSCRIPT) on a
// client, or by hash or text in a pipeline.
func (q *RedisQueue) finish(ctx context.Context, c redis.Scripter, sys string, o Outcome, byHash bool, ids ...any) *redis.Cmd {
	k := q.accountKeys(sys)
	bucket, until := q.doneBucket(sys, time.Now())
	keys, args := []string{k[0], k[2], k[3], bucket, q.leaseKey(sys, q.o.InstanceID)}, append([]any{finalValue(o), until}, ids...)
	if _, pipe := c.(redis.Pipeliner); !pipe {
		return q.s.finish.Run(ctx, c, keys, args...)
	}
	if byHash {
		return q.s.finish.EvalSha(ctx, c, keys, args...)
	}
	return q.s.finish.Eval(ctx, c, keys, args...)
}

// Retry stores r again, due at at, if it is still pending.
func (q *RedisQueue) Retry(ctx context.Context, r Receipt, at time.Time) error {
	r.DueAt = at
	body, _ := r.MarshalBinary()
	k := q.accountKeys(r.SystemID)
	keys := []string{k[0], k[2], k[3], q.leaseKey(r.SystemID, q.o.InstanceID), q.lesseesKey(r.SystemID)}
	if err := q.s.retry.Run(ctx, q.c, keys, r.MessageID, body, scoreMillis(at), expiryArg(r),
		q.leaseKey(r.SystemID, ""), time.Now().UnixMilli()).Err(); err != nil {
		return redisErr("retry", err)
	}
	return nil
}

// Cancel removes a pending receipt of systemID that no instance is
// sending (cancelLua).
func (q *RedisQueue) Cancel(ctx context.Context, systemID, messageID string, at time.Time) (bool, error) {
	k := q.accountKeys(systemID)
	bucket, until := q.doneBucket(systemID, time.Now())
	keys := []string{k[0], k[2], k[3], bucket, q.lesseesKey(systemID)}
	n, err := q.s.cancel.Run(ctx, q.c, keys, finalValue(Outcome{State: pdu.StateDeleted, At: at}), until,
		q.leaseKey(systemID, ""), millisArg(at), messageID).Int()
	if err != nil {
		return false, redisErr("cancel", err)
	}
	n = max(n, 0) // -1: being sent
	q.removed(systemID, -1, n)
	return n == 1, nil
}

// Lookup reads the pending body, else the remembered outcome, of
// systemID's receipt: one pipeline to the account's slot.
func (q *RedisQueue) Lookup(ctx context.Context, systemID, messageID string) (Outcome, bool, error) {
	k := q.accountKeys(systemID)
	var body *redis.StringCmd
	var finals []*redis.StringCmd
	_, err := q.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		body = p.HGet(ctx, k[0], messageID)
		for _, b := range q.doneKeys(systemID, time.Now()) {
			dk, df := doneKey(b, messageID)
			finals = append(finals, p.HGet(ctx, dk, df))
			// The bucket itself is where earlier versions kept the
			// outcome (one hash per bucket): read while they still run
			// beside this one, at most Remember after an upgrade.
			finals = append(finals, p.HGet(ctx, b, messageID))
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		return Outcome{}, false, redisErr("lookup", err)
	}
	if b, err := body.Result(); err == nil {
		o := Outcome{State: pdu.StateEnroute, SystemID: systemID}
		if r, err := decodeReceipt(b); err == nil {
			o.Destination, o.SubmittedAt, o.Source = r.Dest.Addr, r.SubmittedAt, r.Source.Addr
		}
		return o, true, nil
	}
	for _, f := range finals {
		v, err := f.Result()
		if err != nil {
			continue
		}
		st, ms, _ := strings.Cut(v, ":")
		s, err1 := strconv.Atoi(st)
		m, err2 := strconv.ParseInt(ms, 10, 64)
		if err1 != nil || err2 != nil {
			return Outcome{}, false, fmt.Errorf("%w: outcome %q", ErrCorrupt, v)
		}
		return Outcome{State: pdu.MessageState(s), At: time.UnixMilli(m).UTC(), SystemID: systemID}, true, nil
	}
	return Outcome{}, false, nil
}

// PendingCounts is PendingCount for several accounts in one pipeline (the
// dispatcher's sweep refreshes every account it knows). A failed account
// gets -1 and its error is joined; the others are counted. Accounts this
// instance wrote to in the last shareMemory are counted as well, though
// the caller did not ask (an instance that only acknowledged an account's
// receipts, its receiver gone since): so that the instance finds a loss
// of the account's keys and adds its share (losssettle.go).
func (q *RedisQueue) PendingCounts(ctx context.Context, systems []string) ([]int, error) {
	asked := len(systems)
	systems = q.withWrittenAccounts(systems)
	out := make([]int, len(systems))
	for i := range out {
		out[i] = -1 // until counted
	}
	if err := q.eachMaster(ctx, systems, func(idx []int) error {
		return errors.Join(q.countOnMaster(ctx, systems, idx, out)...)
	}); err != nil {
		return out[:asked], redisErr("pending counts", err)
	}
	return out[:asked], nil
}

// countOnMaster counts systems[idx] (one master's accounts, or all of
// them off a Cluster) into out in one pipeline: by hash, then once more
// by text if Redis lost its scripts (a promoted replica has none). The
// second pass stays on the master's own goroutine: after the first pass
// of every master it would wait for a hung one.
func (q *RedisQueue) countOnMaster(ctx context.Context, systems []string, idx []int, out []int) []error {
	var errs []error
	for _, byHash := range []bool{true, false} {
		errs = errs[:0]
		noScript := false
		cmds := make([]*redis.Cmd, len(idx))
		expected, markers, checks := make([]string, len(idx)), make([]string, len(idx)), make([]seqCheck, len(idx))
		q.mu.Lock()
		for j, i := range idx {
			sys := systems[i]
			expected[j], markers[j], checks[j] = q.epochs[sys], q.markerLocked(sys), q.seqCheckLocked(sys)
		}
		q.mu.Unlock()
		_, _ = q.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for j, i := range idx {
				keys := q.countKeys(systems[i])
				if byHash {
					cmds[j] = q.s.count.EvalSha(ctx, p, keys, expected[j], markers[j])
				} else {
					cmds[j] = q.s.count.Eval(ctx, p, keys, expected[j], markers[j])
				}
			}
			return nil
		})
		for j, i := range idx {
			sys := systems[i]
			res, err := cmds[j].Slice()
			if err == nil && len(res) != 6 {
				err = fmt.Errorf("%w: count reply of %d values, want 6", ErrCorrupt, len(res))
			}
			if err != nil {
				noScript = noScript || isNoScript(err)
				errs = append(errs, fmt.Errorf("%s: %w", sys, err))
				out[i] = -1
				continue
			}
			out[i] = q.recordCount(sys, res, checks[j])
		}
		if !noScript {
			break
		}
	}
	return errs
}

// withWrittenAccounts returns systems and, after them, the accounts not
// among them that this instance wrote to after a count it still
// remembers (lossShares.nets).
func (q *RedisQueue) withWrittenAccounts(systems []string) []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var extra []string
	var asked map[string]bool
	for sys, sh := range q.shares {
		if len(sh.nets) == 0 {
			continue
		}
		if asked == nil {
			asked = make(map[string]bool, len(systems))
			for _, a := range systems {
				asked[a] = true
			}
		}
		if !asked[sys] {
			extra = append(extra, sys)
		}
	}
	if len(extra) == 0 {
		return systems
	}
	slices.Sort(extra)
	return append(slices.Clip(systems), extra...)
}

// PendingCount returns the size of the account's pending index. It also
// checks the account's epoch marker: when Redis lost it, what the account
// held is counted in dlr_lost_total{cause="redis_data_loss"}.
func (q *RedisQueue) PendingCount(ctx context.Context, systemID string) (int, error) {
	q.mu.Lock()
	expected, marker, check := q.epochs[systemID], q.markerLocked(systemID), q.seqCheckLocked(systemID)
	q.mu.Unlock()
	res, err := q.s.count.Run(ctx, q.c, q.countKeys(systemID), expected, marker).Slice()
	if err != nil || len(res) != 6 {
		return 0, redisErr("pending count", fmt.Errorf("%w (%d values)", err, len(res)))
	}
	return q.recordCount(systemID, res, check), nil
}

// countKeys are countLua's keys for sys.
func (q *RedisQueue) countKeys(sys string) []string {
	return []string{q.accountKeys(sys)[0], q.epochKey(sys), q.countSeqKey(sys), q.ownPutsKey(sys)}
}

// recordCount keeps what the count script reported {pending, epoch, lost,
// count number, the sequence it found, this instance's put number} and
// counts a loss it detected; check is what the count was built with
// (checkSeqLocked).
func (q *RedisQueue) recordCount(sys string, res []any, check seqCheck) int {
	n, _ := res[0].(int64)
	epoch, _ := res[1].(string)
	lost, _ := res[2].(int64)
	seq, _ := res[3].(int64)
	own, _ := res[5].(int64)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.checkSeqLocked(sys, epoch, lost == 1, own, check)
	q.epochSeenLocked(sys, epoch, lost == 1)
	now := time.Now()
	q.shareLocked(sys).counted(seq, int(n), now)
	q.journal.prune(now)
	return int(n)
}

// epochSeenLocked takes the epoch marker a script reported for sys (and
// whether it found the marker gone: lost) before anything the same reply
// stored is counted, and records this instance's share of a loss
// (lossShares), which the next sweep settles (losssettle.go):
//   - lost: this instance is the first to find the account's keys gone.
//     It counts what its last count found plus its own writes since; the
//     marker it wrote names that count.
//   - a marker other than the one this instance last saw: another
//     instance found the keys gone first and counted from the count its
//     marker names. This one counts its own writes after that count:
//     receipts the other cannot know of. A marker that names no count (an
//     earlier version's) leaves this instance its own writes since its
//     own last count, as that version counted.
//
// Replies can be recorded in another order than Redis ran them (two
// commits and a count in flight): a marker already recorded was counted
// when it was first seen, whichever reply brought it, and one this
// process wrote (its newEpoch) is its own finding even when the reply
// that says so comes after another showing the marker.
func (q *RedisQueue) epochSeenLocked(sys, epoch string, lost bool) {
	before := q.epochs[sys]
	if found, ok := wentBackFound(epoch); ok && !lost && epoch != before {
		// Not a loss of the account: another instance (or this one)
		// found Redis going back and says from which sequence.
		if before != "" {
			q.wentBackToldLocked(sys, epoch, found)
		}
		q.epochs[sys] = epoch
		return
	}
	mine := epoch != "" && markerToken(epoch) == q.newEpoch
	switch {
	case epoch != "" && epoch == before:
		// Seen already (and counted then, if it was a loss).
	case lost || (before != "" && mine):
		// From the count the marker names, which the others count from
		// too: a later count of this instance may have been recorded
		// while the call that wrote the marker was on its way.
		sh := q.shareLocked(sys)
		n := sh.heldNow()
		if c, ok := markerCount(epoch); ok {
			n = sh.heldFrom(c)
		}
		q.lossFoundLocked(sys, markerToken(epoch), n, "the account's epoch marker is gone: Redis restarted empty, was flushed or failed over to a replica without the data")
	case before != "" && epoch != "":
		sh := q.shareLocked(sys)
		from, ok := markerCount(epoch)
		if !ok {
			from = sh.countSeq
		}
		q.lossFoundLocked(sys, markerToken(epoch), sh.since(from), "another instance found the account's epoch marker gone")
	}
	if epoch != "" {
		q.epochs[sys] = epoch
	}
	if mine {
		// This process created that marker. Should Redis lose the
		// account again, the marker it creates next must differ, or the
		// other instances would not see that it changed.
		q.newEpoch = randomToken()
	}
}

// randomToken is 16 random hex digits: a new epoch marker value, an
// anonymous instance id, or a process's token in its heartbeats.
func randomToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// NextDue returns the earliest due time of the account's receipts.
func (q *RedisQueue) NextDue(ctx context.Context, systemID string) (time.Time, bool, error) {
	k := q.accountKeys(systemID)
	var z *redis.ZSliceCmd
	var head *redis.StringCmd
	_, err := q.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		z = p.ZRangeWithScores(ctx, k[2], 0, 0)
		head = p.LIndex(ctx, k[1], 0)
		return nil
	})
	if err != nil && err != redis.Nil {
		return time.Time{}, false, redisErr("next due", err)
	}
	var best time.Time
	if zs := z.Val(); len(zs) > 0 {
		best = millisTime(zs[0].Score)
	}
	if h, err := head.Result(); err == nil {
		if ms, err := strconv.ParseInt(h[:min(len(h), 13)], 10, 64); err == nil {
			if t := time.UnixMilli(ms).UTC(); best.IsZero() || t.Before(best) {
				best = t
			}
		}
	}
	return best, !best.IsZero(), nil
}

// Accounts names the accounts of Paccounts and those this process wrote
// to (which a failed SADD may have left out of it).
func (q *RedisQueue) Accounts(ctx context.Context) ([]string, error) {
	accs, err := q.accounts(ctx)
	if err != nil {
		return accs, redisErr("accounts", err)
	}
	return accs, nil
}

// accounts returns the accounts to sweep: Paccounts, or when it cannot
// be read, those this process wrote to.
func (q *RedisQueue) accounts(ctx context.Context) ([]string, error) {
	cctx, cancel := q.callCtx(ctx)
	all, err := q.c.SMembers(cctx, q.accountsKey()).Result()
	cancel()
	q.mu.Lock()
	defer q.mu.Unlock()
	seen := make(map[string]bool, len(all))
	for _, a := range all {
		seen[a] = true
	}
	for a := range q.epochs {
		if !seen[a] {
			all = append(all, a)
		}
	}
	return all, err
}

// Expire runs the expiry script on every account until max receipts are
// removed. One account's failure does not stop the others.
func (q *RedisQueue) Expire(ctx context.Context, now time.Time, limit int) ([]Receipt, error) {
	accounts, aerr := q.accounts(ctx)
	if aerr != nil {
		aerr = redisErr("expire", aerr)
	}
	val := finalValue(Outcome{State: pdu.StateExpired, At: now})
	// The accounts of each master one after another, the masters at
	// once, sharing limit (b): a call takes its count from the budget
	// before it runs, so together they never expire more than limit, and
	// no more than the master's share of it at a time, so a master that
	// hangs holds only its share while the others go on.
	b := expiryBudget{left: limit}
	err := q.eachMaster(ctx, accounts, func(idx []int) error {
		share := limit // one server or master: all of it
		if len(idx) < len(accounts) {
			share = max(1, (limit*len(idx)+len(accounts)-1)/len(accounts))
		}
		var errs []error
		for _, i := range idx {
			sys := accounts[i]
			for {
				n := b.take(share)
				if n == 0 {
					return errors.Join(errs...)
				}
				rs, removed, err := q.expireAccount(ctx, sys, now, n, val)
				b.give(n - removed)
				b.add(rs)
				if err != nil {
					errs = append(errs, err)
				}
				if err != nil || removed < n {
					break
				}
			}
		}
		return errors.Join(errs...)
	})
	return b.out, errors.Join(aerr, err)
}

// expiryBudget is what the masters' goroutines of one Expire share.
type expiryBudget struct {
	mu   sync.Mutex
	left int
	out  []Receipt
}

// take reserves up to n of the receipts left to expire (none when a call
// removed more than it reserved: never a negative count, which the
// script would read as a range to the end of the list).
func (b *expiryBudget) take(n int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n = max(0, min(n, b.left))
	b.left -= n
	return n
}

// give returns what a call reserved and did not expire.
func (b *expiryBudget) give(n int) {
	b.mu.Lock()
	b.left += n
	b.mu.Unlock()
}

// add keeps the receipts a call expired.
func (b *expiryBudget) add(rs []Receipt) {
	b.mu.Lock()
	b.out = append(b.out, rs...)
	b.mu.Unlock()
}

// expireAccount runs the expiry script on sys for at most n receipts and
// returns those it removed (an undecodable one is only counted) and how
// many it removed.
func (q *RedisQueue) expireAccount(ctx context.Context, sys string, now time.Time, n int, val string) ([]Receipt, int, error) {
	k := q.accountKeys(sys)
	bucket, until := q.doneBucket(sys, time.Now())
	keys := []string{k[0], k[1], k[2], k[3], bucket, q.lesseesKey(sys)}
	pairs, err := q.s.expire.Run(ctx, q.c, keys, millisArg(now), n, val, until, q.leaseKey(sys, ""), q.o.InstanceID).StringSlice()
	if err != nil {
		return nil, 0, redisErr("expire "+sys, err)
	}
	q.removed(sys, -1, len(pairs)/2)
	return q.decodeExpired(sys, pairs), len(pairs) / 2, nil
}

// decodeExpired decodes expired receipts; an undecodable one is already
// removed and is only counted.
func (q *RedisQueue) decodeExpired(sys string, pairs []string) []Receipt {
	out := make([]Receipt, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		r, err := decodeReceipt(pairs[i+1])
		if err != nil {
			q.o.Lost.add(LostCorrupt, 1)
			q.log.Error("dlr.corrupt_receipt_expired", "system_id", sys, "message_id", pairs[i], "err", err)
			continue
		}
		out = append(out, r)
	}
	return out
}

// Len sums the receipts of every account.
func (q *RedisQueue) Len(ctx context.Context) (int, error) {
	accounts, err := q.accounts(ctx)
	if err != nil && len(accounts) == 0 {
		return 0, redisErr("len", err)
	}
	cmds := make([]*redis.IntCmd, len(accounts))
	_, err = q.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, sys := range accounts {
			cmds[i] = p.HLen(ctx, q.accountKeys(sys)[0])
		}
		return nil
	})
	if err != nil {
		return 0, redisErr("len", err)
	}
	n := 0
	for _, c := range cmds {
		n += int(c.Val())
	}
	return n, nil
}

// Healthy pings Redis (readiness).
func (q *RedisQueue) Healthy(ctx context.Context) error {
	if err := q.c.Ping(ctx).Err(); err != nil {
		return redisErr("ping", err)
	}
	return nil
}
