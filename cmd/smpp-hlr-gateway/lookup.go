package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr/simulator"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr/tmt"
)

// lookupEnv holds the HLR settings the lookup command reads from the
// environment (the same variables as the server).
type lookupEnv struct {
	provider       string
	apiKey         string
	apiSecret      string
	baseURL        string
	timeout        time.Duration
	cacheTTL       time.Duration
	memoryEntries  int
	redisURL       string
	redisMaxConns  int
	maxConcurrency int
	simLatency     time.Duration
	errCodes       hlr.ErrCodes
}

// parseLookupEnv reads the HLR variables; an invalid value is an error
// naming the variable.
func parseLookupEnv(env func(string) string) (lookupEnv, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(env(name)); v != "" {
			return v
		}
		return def
	}
	seconds := func(name, def string) (time.Duration, error) {
		f, err := strconv.ParseFloat(get(name, def), 64)
		if err != nil || f < 0 {
			return 0, fmt.Errorf("%s: want a number of seconds >= 0, got %q", name, get(name, def))
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	integer := func(name string, def, min int) (int, error) {
		n, err := strconv.Atoi(get(name, strconv.Itoa(def)))
		if err != nil || n < min {
			return 0, fmt.Errorf("%s: want an integer >= %d, got %q", name, min, get(name, ""))
		}
		return n, nil
	}
	var (
		e   lookupEnv
		err error
	)
	e.provider = strings.ToLower(get("HLR_PROVIDER", "tmt"))
	if e.provider != "tmt" && e.provider != "simulator" {
		return e, fmt.Errorf("HLR_PROVIDER: want tmt or simulator, got %q", e.provider)
	}
	e.apiKey, e.apiSecret = env("HLR_API_KEY"), env("HLR_API_SECRET")
	e.baseURL = get("HLR_BASE_URL", tmt.DefaultBaseURL)
	e.redisURL = get("REDIS_URL", "")
	if e.timeout, err = seconds("HLR_TIMEOUT_SECONDS", "5.0"); err != nil {
		return e, err
	}
	if e.timeout == 0 {
		return e, errors.New("HLR_TIMEOUT_SECONDS: must be > 0")
	}
	if e.cacheTTL, err = seconds("HLR_CACHE_TTL_SECONDS", "86400"); err != nil {
		return e, err
	}
	if e.memoryEntries, err = integer("HLR_CACHE_MEMORY_ENTRIES", cache.DefaultMemoryEntries, 1); err != nil {
		return e, err
	}
	if e.redisMaxConns, err = integer("REDIS_MAX_CONNECTIONS", 10, 1); err != nil {
		return e, err
	}
	if e.maxConcurrency, err = integer("HLR_MAX_CONCURRENCY", hlr.DefaultMaxConcurrency, 1); err != nil {
		return e, err
	}
	ms, err := integer("SIMULATOR_LATENCY_MS", 0, 0)
	if err != nil {
		return e, err
	}
	e.simLatency = time.Duration(ms) * time.Millisecond
	if e.errCodes, err = hlr.ParseErrCodes(env("HLR_ERR_CODES")); err != nil {
		return e, fmt.Errorf("HLR_ERR_CODES: %w", err)
	}
	return e, nil
}

// lookupRow is one line of the lookup command's output.
type lookupRow struct {
	Input    string          `json:"input"`
	MSISDN   string          `json:"msisdn,omitempty"`
	Class    string          `json:"class"`
	Reason   string          `json:"reason,omitempty"`
	ErrCode  string          `json:"err_code,omitempty"`
	Status   *int            `json:"status,omitempty"`
	Error    *int            `json:"error,omitempty"`
	Present  string          `json:"present,omitempty"`
	Network  string          `json:"network,omitempty"`
	MCC      string          `json:"mcc,omitempty"`
	MNC      string          `json:"mnc,omitempty"`
	LineType string          `json:"line_type,omitempty"`
	Ported   *bool           `json:"ported,omitempty"`
	Source   string          `json:"source"`
	Expires  *time.Time      `json:"expires,omitempty"`
	Raw      json.RawMessage `json:"raw,omitempty"`
	Failure  string          `json:"failure,omitempty"`
}

// runLookup implements `smpp-hlr-gateway lookup [--json] MSISDN...`. It
// returns the exit code: 0 all answered, 1 some lookup had no usable
// answer, 2 usage or configuration error.
func runLookup(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lookup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: smpp-hlr-gateway lookup [--json] MSISDN...")
		fmt.Fprintln(stderr, "Looks numbers up through the same HLR chain as the server (HLR_PROVIDER, HLR_*, REDIS_URL).")
		fs.PrintDefaults()
	}
	numbers, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(numbers) == 0 {
		fs.Usage()
		return 2
	}
	cfg, err := parseLookupEnv(env)
	if err != nil {
		fmt.Fprintln(stderr, "config:", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	chain, cleanup, err := buildLookupChain(ctx, cfg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "config:", err)
		return 2
	}
	defer cleanup()

	rows := make([]lookupRow, 0, len(numbers))
	code := 0
	for _, in := range numbers {
		row := lookupRow{Input: in}
		msisdn, ok := hlr.NormalizeMSISDN(in)
		if !ok {
			codes := cfg.errCodes
			row.Class, row.Reason, row.ErrCode, row.Source = hlr.ClassInvalid.String(), hlr.ReasonInvalidNumber, codes.InvalidNumber, "none"
			row.Failure = "not a phone number (1-15 digits after stripping '+', spaces, dashes); no lookup spent"
			rows = append(rows, row)
			continue
		}
		row.MSISDN = msisdn
		res, err := chain.Lookup(ctx, msisdn)
		if err != nil {
			code = 1
			row.Source = "provider"
			row.Class = "error"
			if errors.Is(err, hlr.ErrTimeout) {
				row.Class = "timeout"
			}
			row.Failure = err.Error()
			rows = append(rows, row)
			continue
		}
		st, er := res.Status, res.Error
		row.Class, row.Reason, row.ErrCode = res.Class.String(), res.Reason, res.ErrCode
		row.Status, row.Error = &st, &er
		row.Present, row.Network, row.MCC, row.MNC, row.LineType, row.Ported = res.Present, res.Network, res.MCC, res.MNC, res.LineType, res.Ported
		row.Source, row.Raw = res.Source.String(), res.Raw
		if !res.Expires.IsZero() {
			exp := res.Expires.UTC()
			row.Expires = &exp
		}
		rows = append(rows, row)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			fmt.Fprintln(stderr, "lookup:", err)
			return 1
		}
		return code
	}
	printLookupTable(stdout, rows)
	return code
}

func printLookupTable(w io.Writer, rows []lookupRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MSISDN\tCLASS\tREASON\tERR\tSTATUS\tERROR\tPRESENT\tTYPE\tNETWORK\tMCC\tMNC\tPORTED\tSOURCE\tDETAIL")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	num := func(p *int) string {
		if p == nil {
			return "-"
		}
		return strconv.Itoa(*p)
	}
	for _, r := range rows {
		ported := "-"
		if r.Ported != nil {
			ported = strconv.FormatBool(*r.Ported)
		}
		msisdn := r.MSISDN
		if msisdn == "" {
			msisdn = r.Input
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			msisdn, r.Class, dash(r.Reason), dash(r.ErrCode), num(r.Status), num(r.Error), dash(r.Present),
			dash(r.LineType), dash(r.Network), dash(r.MCC), dash(r.MNC), ported, r.Source, r.Failure)
	}
	_ = tw.Flush()
}

// buildLookupChain builds provider + caches + chain from cfg. cleanup
// releases what it opened.
func buildLookupChain(ctx context.Context, cfg lookupEnv, logger *slog.Logger) (*hlr.Chain, func(), error) {
	var closers []func()
	cleanup := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	var provider hlr.Lookuper
	switch cfg.provider {
	case "simulator":
		provider = simulator.New(simulator.Options{Latency: cfg.simLatency, ErrCodes: cfg.errCodes})
	default:
		c, err := tmt.New(tmt.Options{
			BaseURL: cfg.baseURL, APIKey: cfg.apiKey, APISecret: cfg.apiSecret,
			Timeout: cfg.timeout, MaxConns: cfg.maxConcurrency, ErrCodes: cfg.errCodes, Logger: logger,
		})
		if err != nil {
			return nil, cleanup, err
		}
		closers = append(closers, func() { _ = c.Close() })
		provider = c
	}
	opts := hlr.ChainOptions{
		TTL:            cfg.cacheTTL,
		Timeout:        cfg.timeout,
		MaxConcurrency: cfg.maxConcurrency,
		Logger:         logger,
	}
	if cfg.cacheTTL > 0 {
		// The command looks up a handful of numbers: a small memory tier.
		mem, err := cache.NewMemory[hlr.Result](min(cfg.memoryEntries, 10_000), cache.MemoryOptions{})
		if err != nil {
			return nil, cleanup, err
		}
		closers = append(closers, func() { _ = mem.Close() })
		opts.Memory = mem
		if cfg.redisURL != "" {
			ro, err := redis.ParseURL(cfg.redisURL)
			if err != nil {
				return nil, cleanup, fmt.Errorf("REDIS_URL: %w", err)
			}
			ro.PoolSize = cfg.redisMaxConns
			client := redis.NewClient(ro)
			closers = append(closers, func() { _ = client.Close() })
			rc := cache.NewRedis(client, cache.RedisOptions{Logger: logger})
			if err := rc.Healthy(ctx); err != nil {
				logger.Warn("redis not reachable; looking up without the shared cache", slog.String("error", err.Error()))
			}
			opts.Redis = rc
		}
	}
	chain, err := hlr.NewChain(provider, opts)
	if err != nil {
		return nil, cleanup, err
	}
	return chain, cleanup, nil
}

// parseInterspersed parses flags that may appear before, between or after
// positional arguments; "--" ends flag parsing.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
