// Package system runs the gateway as real processes (the binary built from
// ./cmd/smpp-hlr-gateway) against private redis-server processes and checks
// what a client sees over SMPP: receipts shared by two instances, a crash
// with SIGKILL, a Redis restart under load and a SIGTERM under load, and
// receipts on real Redis topologies (a 3+3 Cluster and a Sentinel set
// started from redis-server and redis-cli) through master kills, slot
// migrations, a lagging replica, a paused Redis and data loss.
//
// Every process a test starts is killed in t.Cleanup. The Redis tests skip
// when redis-server is not installed, unless CI=true, where they fail.
package system

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// gwBin is the gateway binary built once by TestMain (without -race: the
// race detector would slow the process under test, not the test).
var gwBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gw-system-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gwBin = filepath.Join(dir, "gw")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", gwBin, "github.com/smpp-hlr-gateway/gateway/cmd/smpp-hlr-gateway")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	err = cmd.Run()
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "building the gateway:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}
