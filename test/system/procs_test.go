package system

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr/simulator"
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that no other test in this process was given.
func freePort(t *testing.T) int { return redistest.FreePort(t) }

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// proc is one child process whose stderr goes to a file.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	state   *os.ProcessState
}

func startProc(t *testing.T, name, logPath string, env []string, bin string, args ...string) *proc {
	t.Helper()
	p, err := newProc(name, logPath, env, bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.kill(t) })
	return p
}

// newProc starts a process; the caller arranges its kill in t.Cleanup.
func newProc(name, logPath string, env []string, bin string, args ...string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		p.state = cmd.ProcessState
		f.Close()
		close(p.exited)
	}()
	return p, nil
}

func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the exit.
func (p *proc) kill(t *testing.T) {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("%s (pid %d) did not exit 10 s after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// signal sends sig and waits up to d for the exit.
func (p *proc) signal(t *testing.T, sig syscall.Signal, d time.Duration) bool {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to %s: %v", sig, p.name, err)
	}
	select {
	case <-p.exited:
		return true
	case <-time.After(d):
		return false
	}
}

func (p *proc) logs() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// tail returns the last n lines of the process's output.
func (p *proc) tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.logs(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// --- Redis ---

// redisServer is a private redis-server on its own port and directory, so
// a test can kill and restart it without touching a shared Redis.
type redisServer struct {
	t    *testing.T
	port int
	dir  string
	bin  string
	args []string
	pass string // requirepass, for the readiness PING
	p    *proc
	n    int
	// frozen: stopped by pause until resume; the cluster helpers ask
	// another node (its process runs but answers nothing).
	frozen atomic.Bool
}

// startRedis starts a private redis-server with AOF persistence. Without
// redis-server the test is skipped, except with CI=true where it fails.
func startRedis(t *testing.T, extra ...string) *redisServer {
	t.Helper()
	return startOnFreePorts(t, func() *redisServer {
		r := newRedisServer(t)
		r.args = append([]string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "",
			"--appendonly", "yes", "--dir", r.dir, "--protected-mode", "no"}, extra...)
		return r
	})
}

// startOnFreePorts starts the redis-server setup builds (picking its ports
// with freePort), with new ports when one was taken between freePort and
// redis-server's bind: another process's outgoing connection can be
// given it meanwhile on a busy machine. At most three tries.
func startOnFreePorts(t *testing.T, setup func() *redisServer) *redisServer {
	t.Helper()
	var err error
	for range 3 {
		r := setup()
		if err = r.start(); err == nil {
			return r
		}
		if !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	t.Fatal(err)
	return nil
}

// newRedisServer finds redis-server and picks a port and a directory; the
// caller sets args (and pass) and calls start.
func newRedisServer(t *testing.T) *redisServer {
	t.Helper()
	return &redisServer{t: t, port: freePort(t), dir: t.TempDir(), bin: redisBinary(t, "redis-server")}
}

// redisBinary returns the path of a Redis program. Without it the test is
// skipped, except with CI=true where it fails.
func redisBinary(t *testing.T, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (CI=true requires it)", name)
		}
		t.Skipf("%s is not installed; install it (e.g. apt-get install redis-server redis-tools) to run this test", name)
	}
	return bin
}

func (r *redisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

// start runs redis-server and waits until it answers PING (after loading
// its AOF). It does not touch t, so a test's helper goroutine may call it.
func (r *redisServer) start() error {
	r.n++
	p, err := newProc(fmt.Sprintf("redis-server:%d", r.port), filepath.Join(r.dir, fmt.Sprintf("redis-%d.log", r.n)), os.Environ(), r.bin, r.args...)
	if err != nil {
		return err
	}
	r.p = p
	r.t.Cleanup(func() { p.kill(r.t) })
	c := redis.NewClient(&redis.Options{Addr: r.addr(), Password: r.pass, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	ok := waitFor(15*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		return p.running() && c.Ping(ctx).Err() == nil
	})
	if !ok {
		return fmt.Errorf("redis-server on port %d not answering PING:\n%s", r.port, p.tail(20))
	}
	return nil
}

// stop signals redis-server and waits for it to exit. It does not touch
// t.
func (r *redisServer) stop(sig syscall.Signal) error {
	if err := r.p.cmd.Process.Signal(sig); err != nil {
		return err
	}
	select {
	case <-r.p.exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("redis-server did not exit 10 s after %v", sig)
	}
}

// --- HLR ---

// countingTMT serves the simulator's rules as the TMT Live API and counts
// the requests.
type countingTMT struct {
	srv      *httptest.Server
	requests atomic.Int64
}

func newCountingTMT(t *testing.T) *countingTMT {
	return newCountingTMTWith(t, simulator.Options{})
}

// newCountingTMTWith is newCountingTMT with the simulator's options (its
// latency, say).
func newCountingTMTWith(t *testing.T, o simulator.Options) *countingTMT {
	c := &countingTMT{}
	h := simulator.New(o).Handler()
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// --- gateway ---

// gw is one gateway process.
type gw struct {
	t           *testing.T
	name        string
	env         map[string]string
	smppAddr    string
	metricsAddr string
	logPath     string
	p           *proc
}

// startGW starts `gw serve` with the simulator HLR, metrics on, WARNING
// logs, overridden by env, and waits until /readyz answers 200.
func startGW(t *testing.T, name string, env map[string]string) *gw {
	t.Helper()
	vars := map[string]string{
		"SMPP_HOST": "127.0.0.1", "SMPP_PORT": strconv.Itoa(freePort(t)),
		"METRICS_ENABLED": "true", "METRICS_HOST": "127.0.0.1", "METRICS_PORT": strconv.Itoa(freePort(t)),
		"HLR_PROVIDER": "simulator", "LOG_LEVEL": "WARNING", "INSTANCE_ID": name,
	}
	for k, v := range env {
		vars[k] = v
	}
	g := &gw{t: t, name: name, env: vars,
		smppAddr:    "127.0.0.1:" + vars["SMPP_PORT"],
		metricsAddr: "127.0.0.1:" + vars["METRICS_PORT"],
		logPath:     filepath.Join(t.TempDir(), name+".log"),
	}
	g.start()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s: last log lines:\n%s", name, g.p.tail(40))
		}
	})
	return g
}

// start runs the process (again, after a kill: same ports, same Redis).
func (g *gw) start() {
	g.t.Helper()
	g.p = startProc(g.t, "gateway "+g.name, g.logPath, g.procEnv(), gwBin, "serve")
	if !g.waitReady(15 * time.Second) {
		g.t.Fatalf("gateway %s not ready:\n%s", g.name, g.p.tail(40))
	}
}

// procEnv is the gateway's environment: PATH and its settings.
func (g *gw) procEnv() []string {
	env := []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range g.env {
		env = append(env, k+"="+v)
	}
	return env
}

func (g *gw) waitReady(d time.Duration) bool {
	hc := &http.Client{Timeout: time.Second}
	return waitFor(d, func() bool {
		if !g.p.running() {
			return false
		}
		resp, err := hc.Get("http://" + g.metricsAddr + "/readyz")
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// readyz returns /readyz's status code and body.
func (g *gw) readyz() (int, string) {
	hc := &http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get("http://" + g.metricsAddr + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric sums the samples of a metric family (all label values) from
// /metrics; ok is false when the scrape fails.
func (g *gw) metric(name string) (float64, bool) {
	var sum float64
	ok := g.scrapeLines(func(line string) bool {
		if !strings.HasPrefix(line, name) {
			return true
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			return true
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			return true
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			sum += v
		}
		return true
	})
	return sum, ok
}

// scrapeLines reads /metrics and calls each with every line until it
// returns false; false when the scrape failed.
func (g *gw) scrapeLines(each func(line string) bool) bool {
	hc := &http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get("http://" + g.metricsAddr + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		if !each(sc.Text()) {
			return true
		}
	}
	return sc.Err() == nil
}

// lastLogLine returns the last non-empty line the process wrote.
func (g *gw) lastLogLine() string {
	lines := bytes.Split(bytes.TrimRight([]byte(g.p.logs()), "\n"), []byte("\n"))
	return string(lines[len(lines)-1])
}

// exitCode is the exit status once exited, -1 for a signal.
func (g *gw) exitCode() (int, error) {
	if g.p.running() {
		return 0, errors.New("still running")
	}
	return g.p.state.ExitCode(), nil
}
