package redisconn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/smpp-hlr-gateway/gateway/internal/logging"
)

func TestLoggerMasksSecrets(t *testing.T) {
	var b bytes.Buffer
	l := NewLogger(slog.New(slog.NewJSONHandler(&b, nil)), nil, "redis-sentinel://:masterpw@s1:1?master=m&sentinel_password=sentinelpw")
	l.Printf(context.Background(), "sentinel: AUTH %s failed, master AUTH %s", "sentinelpw", "masterpw")
	out := b.String()
	if strings.Contains(out, "masterpw") || strings.Contains(out, "sentinelpw") {
		t.Fatalf("log line shows a password: %s", out)
	}
	if !strings.Contains(out, `"msg":"redis.client"`) || !strings.Contains(out, "AUTH ****") {
		t.Fatalf("log line %s", out)
	}
}

// TestLoggerMasksOnlySecrets: a one-letter password must not turn
// "sentinel" into "****entinel".
func TestLoggerMasksOnlySecrets(t *testing.T) {
	var b bytes.Buffer
	l := NewLogger(slog.New(slog.NewJSONHandler(&b, nil)), nil, "redis-sentinel://:s@s1:1?master=m")
	l.Printf(context.Background(), "sentinel: new master=%q addr=%q", "mymaster", "10.0.0.1:6379")
	l.Printf(context.Background(), "dial %s: refused", "redis://:s@10.0.0.1:6379")
	out := b.String()
	for _, want := range []string{`sentinel: new master=\"mymaster\" addr=\"10.0.0.1:6379\"`, "dial redis://:****@10.0.0.1:6379: refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %s lacks %s", out, want)
		}
	}
}

// TestSentinelMasterChangesAreAlwaysLogged: the routine lines are
// throttled per event; the master a Sentinel names at start-up and after
// a failover must not be hidden by the throttle (they were, as
// "redis.client" lines like every other).
func TestSentinelMasterChangesAreAlwaysLogged(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&b, nil))
	l := NewLogger(log, logging.Throttled(log, time.Hour, nil), "redis-sentinel://s1:1?master=m")
	ctx := context.Background()
	l.Printf(ctx, "sentinel: selected addr=%s masterAddr=%s", "s1:1", "10.0.0.1:6379")
	l.Printf(ctx, "redis: dial %s: refused", "10.0.0.1:6379")
	l.Printf(ctx, "redis: dial %s: refused", "10.0.0.1:6379")
	l.Printf(ctx, "sentinel: new master=%q addr=%q", "m", "10.0.0.2:6379")
	out := b.String()
	if n := strings.Count(out, `"msg":"redis.sentinel_master"`); n != 2 {
		t.Fatalf("%d master lines, want 2:\n%s", n, out)
	}
	if !strings.Contains(out, `addr=\"10.0.0.2:6379\"`) {
		t.Fatalf("the failover's master is not logged:\n%s", out)
	}
	if n := strings.Count(out, `"msg":"redis.client"`); n != 1 {
		t.Fatalf("%d routine lines, want 1 (throttled):\n%s", n, out)
	}
}

// replyError is a Redis error reply, as go-redis returns one.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

// TestReplyClassification: IsNodeError (the node did not answer or
// cannot serve now) and NotRun (a reply refusing the command before it
// ran) on the same errors.
func TestReplyClassification(t *testing.T) {
	tests := []struct {
		err             error
		nodeErr, notRun bool
	}{
		{nil, false, false},
		{redis.Nil, false, false},
		{replyError("ERR Error running script"), false, false},
		{replyError("NOSCRIPT No matching script"), false, false},
		{replyError("OOM command not allowed when used memory > 'maxmemory'"), false, false},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, true, false},
		{&net.OpError{Op: "read", Err: errors.New("connection reset")}, true, false},
		{fmt.Errorf("put: %w", io.EOF), true, false},
		{context.DeadlineExceeded, true, false},
		{redis.ErrPoolTimeout, true, false},
		{errors.New("TRYAGAIN not a reply: text alone"), true, false},
		{replyError("CLUSTERDOWN The cluster is down"), true, true},
		{fmt.Errorf("claim: %w", replyError("CLUSTERDOWN The cluster is down")), true, true},
		{replyError("TRYAGAIN Multiple keys request during rehashing of slot"), true, true},
		{replyError("LOADING Redis is loading the dataset in memory"), true, true},
		{replyError("MOVED 3999 127.0.0.1:6381"), true, true},
		{replyError("READONLY You can't write against a read only replica."), true, true},
	}
	for _, tt := range tests {
		if got := IsNodeError(tt.err); got != tt.nodeErr {
			t.Errorf("IsNodeError(%v) = %v, want %v", tt.err, got, tt.nodeErr)
		}
		if got := NotRun(tt.err); got != tt.notRun {
			t.Errorf("NotRun(%v) = %v, want %v", tt.err, got, tt.notRun)
		}
	}
}
