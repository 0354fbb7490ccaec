package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
)

// Check outcomes as written in the /readyz body.
const (
	StatusOK       = "ok"
	StatusDegraded = "degraded"
	StatusFailed   = "failed"
)

// CheckResult is the outcome of one readiness check.
type CheckResult struct {
	Name   string
	Status string // StatusOK, StatusDegraded or StatusFailed
	Err    error
}

// String renders the result as its /readyz line.
func (r CheckResult) String() string {
	if r.Status == StatusFailed && r.Err != nil {
		return r.Name + ": " + r.Status + ": " + oneLine(r.Err.Error())
	}
	return r.Name + ": " + r.Status
}

// Ready runs every check concurrently within the check timeout and returns
// the results in check order, and whether all of them are ok.
func (s *Server) Ready(ctx context.Context) ([]CheckResult, bool) {
	s.mu.Lock()
	checks := append([]Check(nil), s.checks...)
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, s.opts.CheckTimeout)
	defer cancel()
	results := make([]CheckResult, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			results[i] = runCheck(ctx, c)
		})
	}
	wg.Wait()
	ok := true
	for _, r := range results {
		ok = ok && r.Status == StatusOK
	}
	return results, ok
}

// runCheck runs c, giving up when ctx ends even if c ignores ctx.
func runCheck(ctx context.Context, c Check) CheckResult {
	errc := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				errc <- errCheckPanicked
			}
		}()
		errc <- c.Fn(ctx)
	}()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		err = ctx.Err()
	}
	switch {
	case err == nil:
		return CheckResult{Name: c.Name, Status: StatusOK}
	case errors.Is(err, ErrDegraded):
		return CheckResult{Name: c.Name, Status: StatusDegraded, Err: err}
	}
	return CheckResult{Name: c.Name, Status: StatusFailed, Err: err}
}

var errCheckPanicked = errors.New("admin: check panicked")

// readyz answers 200 when every check is ok and 503 otherwise, with one
// "name: status" line per check (the first line is "ready" or "not ready").
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	results, ok := s.Ready(r.Context())
	var b strings.Builder
	if ok {
		b.WriteString("ready\n")
	} else {
		b.WriteString("not ready\n")
	}
	for _, res := range results {
		b.WriteString(res.String())
		b.WriteByte('\n')
		if res.Status != StatusOK {
			s.logger.Debug("admin.not_ready", "check", res.Name, "status", res.Status, "error", res.Err)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write([]byte(b.String()))
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
