package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
)

func serveEnv(port int) map[string]string {
	return map[string]string{
		"SMPP_HOST": "127.0.0.1", "SMPP_PORT": strconv.Itoa(port), "HLR_PROVIDER": "simulator",
		"METRICS_ENABLED": "false", "LOG_LEVEL": "INFO",
	}
}

// TestServeWritesOutBufferedLinesWhenItReturns: the log is buffered, and
// serve's last line is out by the time it returns.
func TestServeWritesOutBufferedLinesWhenItReturns(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // stop as soon as started
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"serve"}, envOf(serveEnv(0)), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n")
	if !strings.Contains(errOut.String(), `"event":"gateway.started"`) || !strings.Contains(lines[len(lines)-1], `"event":"gateway.stopped"`) {
		t.Fatalf("want gateway.started and gateway.stopped last, got:\n%s", errOut.String())
	}
}

// TestServeStartErrorIsALogLine: when the gateway cannot start (its port
// is taken), the error is a log line in the configured format, after the
// lines logged before it, and serve exits 1.
func TestServeStartErrorIsALogLine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"serve"}, envOf(serveEnv(port)), &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errOut.String())
	}
	logs := errOut.String()
	for _, line := range strings.Split(strings.TrimSuffix(logs, "\n"), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("not a JSON line: %q", line)
		}
	}
	queued, failed := strings.Index(logs, `"event":"dlr.queue.memory"`), strings.Index(logs, `"event":"gateway.start_failed"`)
	if queued < 0 || failed < queued || !strings.Contains(logs[failed:], "SMPP listener (SMPP_HOST, SMPP_PORT)") {
		t.Fatalf("want the log line, then gateway.start_failed naming the SMPP listener:\n%s", logs)
	}
}
