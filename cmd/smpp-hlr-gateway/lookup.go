package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/app"
	"github.com/smpp-hlr-gateway/gateway/internal/config"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
	"github.com/smpp-hlr-gateway/gateway/internal/logging"
)

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
	fs := newCmdFlags("lookup", "smpp-hlr-gateway lookup [--json] MSISDN...",
		"Looks numbers up through the same HLR chain as the server (HLR_PROVIDER, HLR_*, REDIS_URL) and\n"+
			"prints what each answer means. Exit codes: 0 all answered, 1 some lookup had no usable answer,\n"+
			"2 usage or configuration error. Log lines (LOG_LEVEL, LOG_FORMAT) go to stderr.")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	account := fs.String("account", "", "read the numbers as this account's submits (its default_region and allow/deny lists)")
	ton := fs.Uint("ton", uint(hlr.TONUnknown), "dest_addr_ton of the numbers: 0 unknown, 1 international, 2 national")
	numbers, done, code := fs.parse(args, true, stdout, stderr)
	if done {
		return code
	}
	if len(numbers) == 0 {
		return fs.usageError(stderr, "give at least one number")
	}
	if *ton > 2 {
		return fs.usageError(stderr, "--ton %d: want 0 unknown, 1 international or 2 national", *ton)
	}
	cfg, err := loadConfig(env)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *account != "" && !slices.ContainsFunc(cfg.Accounts(), func(a config.Account) bool { return a.SystemID == *account }) {
		return fs.usageError(stderr, "--account %q: no such account in the configuration", *account)
	}
	codes, err := hlr.ParseErrCodes(cfg.HLR.ErrCodes)
	if err != nil {
		fmt.Fprintln(stderr, "config: HLR_ERR_CODES:", err)
		return 2
	}
	logger, err := logging.New(stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	routeRedisLogs(logger, cfg.Redis.URL)
	chain, cleanup, err := buildLookupChain(ctx, cfg, logger)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	defer cleanup()
	resolver, err := app.BuildResolver(cfg, chain, codes, nil)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}

	rows := make([]lookupRow, 0, len(numbers))
	for _, in := range numbers {
		row := lookupRow{Input: in}
		msisdn, res, err := resolver.Resolve(ctx, hlr.Destination{Account: *account, Addr: in, TON: uint8(*ton)})
		row.MSISDN = msisdn
		switch res.Source {
		case hlr.SourceNotANumber:
			row.Failure = "not a phone number; no lookup spent"
		case hlr.SourcePrecheck:
			row.Failure = "cannot exist in its numbering plan (HLR_PRECHECK); no lookup spent"
		case hlr.SourceRule:
			row.Failure = "answered by HLR_RULES_FILE; no lookup spent"
		}
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

// buildLookupChain builds the server's lookup chain from cfg; cleanup
// releases what it opened.
func buildLookupChain(ctx context.Context, cfg config.Config, logger *slog.Logger) (*hlr.Chain, func(), error) {
	cleanup := func() {}
	provider, _, err := app.BuildProvider(cfg, logger)
	if err != nil {
		return nil, cleanup, err
	}
	var rdb redis.UniversalClient
	if cfg.Redis.Enabled() {
		if rdb, err = app.NewRedisClient(cfg.Redis); err != nil {
			return nil, cleanup, err
		}
		cleanup = func() { _ = rdb.Close() }
	}
	// The command looks up a handful of numbers: a small memory tier.
	cfg.Cache.MemoryEntries = min(cfg.Cache.MemoryEntries, 10_000)
	chain, rc, err := app.BuildLookuper(cfg, provider, rdb, nil, logger)
	if err != nil {
		return nil, cleanup, err
	}
	if rc != nil {
		if err := rc.Healthy(ctx); err != nil {
			logger.Warn("redis.cache.down", slog.String("detail", "looking up without the shared cache"), slog.String("error", err.Error()))
		}
	}
	return chain, cleanup, nil
}
