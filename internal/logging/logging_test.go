package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{"DEBUG", slog.LevelDebug, false},
		{"debug", slog.LevelDebug, false},
		{"Info", slog.LevelInfo, false},
		{"WARNING", slog.LevelWarn, false},
		{"warn", slog.LevelWarn, false},
		{" error ", slog.LevelError, false},
		{"verbose", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrLevel) {
			t.Errorf("ParseLevel(%q) error %v does not match ErrLevel", tt.in, err)
		}
	}
}

func TestNewRejectsUnknownFormat(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, "INFO", "xml"); !errors.Is(err, ErrFormat) {
		t.Fatalf("New(xml) error = %v, want ErrFormat", err)
	}
	if _, err := New(&bytes.Buffer{}, "loud", "json"); !errors.Is(err, ErrLevel) {
		t.Fatalf("New(loud) error = %v, want ErrLevel", err)
	}
}

var timestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestJSON(t *testing.T) {
	tests := []struct {
		level     string
		log       func(l *slog.Logger)
		wantLevel string
		wantLines int
	}{
		{"INFO", func(l *slog.Logger) { l.Info("submit.accepted", "message_id", "ABC", "message_length", 5) }, "info", 1},
		{"INFO", func(l *slog.Logger) { l.Warn("redis.down") }, "warning", 1},
		{"INFO", func(l *slog.Logger) { l.Error("hlr.error") }, "error", 1},
		{"DEBUG", func(l *slog.Logger) { l.Debug("submit.received") }, "debug", 1},
		{"INFO", func(l *slog.Logger) { l.Debug("submit.received") }, "", 0},
		{"WARNING", func(l *slog.Logger) { l.Info("x") }, "", 0},
		{"ERROR", func(l *slog.Logger) { l.Warn("x") }, "", 0},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		l, err := New(&buf, tt.level, "JSON")
		if err != nil {
			t.Fatal(err)
		}
		tt.log(l)
		lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
		if buf.Len() == 0 {
			lines = nil
		}
		if len(lines) != tt.wantLines {
			t.Fatalf("level %s: %d lines, want %d: %q", tt.level, len(lines), tt.wantLines, buf.String())
		}
		if tt.wantLines == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", lines[0], err)
		}
		if m["level"] != tt.wantLevel {
			t.Errorf("level = %v, want %s", m["level"], tt.wantLevel)
		}
		ts, _ := m["timestamp"].(string)
		if !timestampRE.MatchString(ts) {
			t.Errorf("timestamp %q is not RFC 3339 UTC with milliseconds", ts)
		}
		for _, k := range []string{"time", "msg"} {
			if _, ok := m[k]; ok {
				t.Errorf("built-in key %q left in %s", k, lines[0])
			}
		}
		if _, ok := m["event"]; !ok {
			t.Errorf("no event in %s", lines[0])
		}
	}
}

func TestJSONKeyOrderAndAttrs(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	l.With("system_id", "alice").WithGroup("hlr").Info("submit.accepted", "message_id", "0A1B", "time", "inner")
	line := buf.String()
	if !regexp.MustCompile(`^\{"timestamp":"[^"]+","level":"info","event":"submit.accepted",`).MatchString(line) {
		t.Fatalf("unexpected key order: %s", line)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["system_id"] != "alice" {
		t.Errorf("system_id = %v", m["system_id"])
	}
	hlr, _ := m["hlr"].(map[string]any)
	if hlr["message_id"] != "0A1B" || hlr["time"] != "inner" {
		t.Errorf("grouped attrs = %v", m["hlr"])
	}
}

func TestTimestampIsUTCWithMillis(t *testing.T) {
	loc := time.FixedZone("X", 3*3600)
	got := formatTime(time.Date(2026, 11, 25, 21, 5, 5, 123456789, loc))
	if want := "2026-11-25T18:05:05.123Z"; got != want {
		t.Fatalf("formatTime = %q, want %q", got, want)
	}
	if got := formatTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); got != "2026-01-02T03:04:05.000Z" {
		t.Fatalf("formatTime whole second = %q", got)
	}
}

func TestConsole(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string // the line after the timestamp
	}{
		{"aligned", func(l *slog.Logger) { l.Info("submit.accepted", "message_id", "0A1B", "destination", "407225") },
			"INFO  submit.accepted          message_id=0A1B destination=407225"},
		{"no attrs", func(l *slog.Logger) { l.Warn("shutdown") }, "WARN  shutdown"},
		{"quoting", func(l *slog.Logger) { l.Error("bind.failed", "reason", "bad password", "empty", "", "eq", "a=b") },
			`ERROR bind.failed              reason="bad password" empty="" eq="a=b"`},
		{"types", func(l *slog.Logger) {
			l.Debug("x", "n", 3, "ok", true, "d", 1500*time.Millisecond, "err", errors.New("boom now"))
		}, `DEBUG x                        n=3 ok=true d=1.5s err="boom now"`},
		{"groups", func(l *slog.Logger) {
			l.With("a", 1).WithGroup("s").With("b", 2).Info("ev", slog.Group("g", "c", 3), "d", 4)
		}, "INFO  ev                       a=1 s.b=2 s.g.c=3 s.d=4"},
		{"long event", func(l *slog.Logger) { l.Info("a.very.long.event.name.that.overflows", "k", "v") },
			"INFO  a.very.long.event.name.that.overflows k=v"},
		{"newline escaped", func(l *slog.Logger) { l.Info("ev", "k", "a\nb") }, `INFO  ev                       k="a\nb"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l, err := New(&buf, "debug", "console")
			if err != nil {
				t.Fatal(err)
			}
			tt.log(l)
			out := buf.String()
			if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
				t.Fatalf("want exactly one line, got %q", out)
			}
			ts, rest, _ := strings.Cut(strings.TrimSuffix(out, "\n"), " ")
			if !timestampRE.MatchString(ts) {
				t.Errorf("timestamp %q", ts)
			}
			if rest != tt.want {
				t.Errorf("got  %q\nwant %q", rest, tt.want)
			}
		})
	}
}

func TestConsoleLevelFilter(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, "warn", "console")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "shown") {
		t.Fatalf("filter wrong: %q", buf.String())
	}
}

func TestConsoleConcurrentWritesStayWhole(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, "info", "console")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	for i := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			child := l.With("worker", i)
			for range 100 {
				child.Info("tick", "k", "v")
			}
		}()
	}
	for range 8 {
		<-done
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines, want 800", len(lines))
	}
	for _, line := range lines {
		if !strings.HasSuffix(line, " k=v") {
			t.Fatalf("torn line %q", line)
		}
	}
}

func TestDiscard(t *testing.T) {
	l := Discard()
	l.Error("nothing")
	if l.Enabled(t.Context(), slog.LevelError) {
		t.Fatal("Discard logger is enabled")
	}
}

func TestJSONDurationsAreReadable(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	l.Warn("redis.cache.down", slog.Duration("retry_after", 1500*time.Millisecond), slog.Group("g", slog.Duration("d", time.Second)))
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["retry_after"] != "1.5s" || m["g"].(map[string]any)["d"] != "1s" {
		t.Fatalf("durations rendered as %v and %v, want 1.5s and 1s", m["retry_after"], m["g"])
	}
}
