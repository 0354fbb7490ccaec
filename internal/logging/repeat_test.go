package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type fakeNow struct{ t time.Time }

func (f *fakeNow) now() time.Time          { return f.t }
func (f *fakeNow) advance(d time.Duration) { f.t = f.t.Add(d) }

func decodeLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		out = append(out, m)
	}
	buf.Reset()
	return out
}

// TestRepeatsRedisDownForNineSeconds: a claim failing every 250 ms for
// 9 s on two accounts (the 45 lines of the report) gives one line per
// account at the start, one per account after Every with the count, and
// one recovery line each.
func TestRepeatsRedisDownForNineSeconds(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "INFO", "json")
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeNow{t: time.Date(2026, 11, 29, 20, 0, 0, 0, time.UTC)}
	r := NewRepeats(log, "dlr.claim_failed", RepeatOptions{Every: 5 * time.Second, Recovered: "dlr.claim_recovered", Now: clock.now})
	ctx := context.Background()
	down := errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	for i := 0; i < 36; i++ { // 36 × 250 ms = 9 s
		for _, sys := range []string{"alice", "bob"} {
			r.Failed(ctx, sys, down, slog.String("system_id", sys))
		}
		clock.advance(250 * time.Millisecond)
	}
	lines := decodeLines(t, &buf)
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4: %v", len(lines), lines)
	}
	for i, want := range []struct {
		sys      string
		repeated float64 // 0: absent
	}{{"alice", 0}, {"bob", 0}, {"alice", 20}, {"bob", 20}} {
		l := lines[i]
		if l["event"] != "dlr.claim_failed" || l["level"] != "warning" || l["system_id"] != want.sys || l["err"] != down.Error() {
			t.Errorf("line %d = %v", i, l)
		}
		if got, _ := l["repeated"].(float64); got != want.repeated {
			t.Errorf("line %d repeated = %v, want %v", i, l["repeated"], want.repeated)
		}
	}
	if lines[2]["failing_for"] != "5s" {
		t.Errorf("failing_for = %v, want 5s", lines[2]["failing_for"])
	}
	r.Succeeded(ctx, "alice", slog.String("system_id", "alice"))
	r.Succeeded(ctx, "alice", slog.String("system_id", "alice")) // already fine: nothing
	lines = decodeLines(t, &buf)
	if len(lines) != 1 || lines[0]["event"] != "dlr.claim_recovered" || lines[0]["failures"] != float64(36) || lines[0]["failing_for"] != "9s" {
		t.Fatalf("recovery lines = %v", lines)
	}
	// After recovery a new failure is news again.
	r.Failed(ctx, "alice", down, slog.String("system_id", "alice"))
	if lines = decodeLines(t, &buf); len(lines) != 1 || lines[0]["repeated"] != nil {
		t.Fatalf("after recovery: %v", lines)
	}
}

// TestRepeatsFlappingErrorsStayBounded: an error whose text alternates
// (a refused dial, then a timeout) is still one line per Every, carrying
// the latest error.
func TestRepeatsFlappingErrorsStayBounded(t *testing.T) {
	var buf bytes.Buffer
	log, _ := New(&buf, "INFO", "json")
	clock := &fakeNow{t: time.Unix(0, 0)}
	r := NewRepeats(log, "x.failed", RepeatOptions{Every: 10 * time.Second, Now: clock.now})
	ctx := context.Background()
	errs := []error{errors.New("connection refused"), errors.New("context deadline exceeded")}
	for i := range 80 { // 20 s, every 250 ms
		r.Failed(ctx, "k", errs[i%2])
		clock.advance(250 * time.Millisecond)
	}
	lines := decodeLines(t, &buf)
	if len(lines) != 2 || lines[0]["err"] != "connection refused" || lines[1]["err"] != "connection refused" || lines[1]["repeated"] != float64(40) {
		t.Fatalf("lines = %v", lines)
	}
}

func TestRepeatsBoundsKeys(t *testing.T) {
	var buf bytes.Buffer
	log, _ := New(&buf, "INFO", "json")
	clock := &fakeNow{t: time.Unix(0, 0)}
	r := NewRepeats(log, "x.failed", RepeatOptions{Every: time.Minute, Now: clock.now, MaxKeys: 2})
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		r.Failed(context.Background(), k, errors.New("down"))
	}
	if n := len(decodeLines(t, &buf)); n != 3 {
		t.Fatalf("%d lines, want 3 (two keys and the shared overflow entry)", n)
	}
	if len(r.state) != 3 {
		t.Fatalf("%d keys followed, want 3", len(r.state))
	}
}

// TestThrottled: the Redis client's dial failures (one per attempt) give
// one line, then one per interval with the count.
func TestThrottled(t *testing.T) {
	var buf bytes.Buffer
	base, _ := New(&buf, "INFO", "json")
	clock := &fakeNow{t: time.Unix(0, 0)}
	l := Throttled(base, 10*time.Second, clock.now)
	for range 40 { // 20 s, two a second
		l.Warn("redis.client", "detail", "dial tcp 127.0.0.1:1: connect: connection refused")
		clock.advance(500 * time.Millisecond)
	}
	l.Info("other.event")
	lines := decodeLines(t, &buf)
	if len(lines) != 3 || lines[0]["repeated"] != nil || lines[1]["repeated"] != float64(20) || lines[2]["event"] != "other.event" {
		t.Fatalf("lines = %v", lines)
	}
}
