package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/admin"
	"github.com/smpp-hlr-gateway/gateway/internal/config"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp/sharedlimits"
)

// Reloader is one part of the configuration that can be read again while
// the gateway runs (SIGHUP, POST /api/v1/reload): the accounts file, and
// any other file a component registers with AddReloader.
type Reloader interface {
	// Name names the reloader in logs.
	Name() string
	// Prepare reads and validates the new configuration without applying
	// it; apply makes it effective and reports what changed. Nothing is
	// applied unless every reloader prepared without error. Files that
	// several reloaders need (the accounts file) are read once per reload,
	// through in, so every part applies the same version.
	Prepare(ctx context.Context, in *ReloadInput) (apply func() smpp.ReloadResult, err error)
}

// ReloadInput is what one reload reads once for all its reloaders.
type ReloadInput struct {
	cfg      config.Config
	once     sync.Once
	accounts []config.Account
	err      error
}

// Accounts returns the accounts file as read (and validated) by this
// reload, reading it on the first call only.
func (in *ReloadInput) Accounts() ([]config.Account, error) {
	in.once.Do(func() { in.accounts, in.err = in.cfg.ReloadAccounts() })
	return in.accounts, in.err
}

// reloads runs the reloaders one reload at a time.
type reloads struct {
	mu        sync.Mutex
	reloaders []Reloader
	total     *prometheus.CounterVec
}

func newReloads(reg prometheus.Registerer) *reloads {
	r := &reloads{total: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "config_reload_total", Help: "Configuration reloads (SIGHUP, POST /api/v1/reload) by result: success or failure.",
	}, []string{"result"})}
	r.total.WithLabelValues("success")
	r.total.WithLabelValues("failure")
	reg.MustRegister(r.total)
	return r
}

// AddReloader registers r for every later reload.
func (a *App) AddReloader(r Reloader) {
	a.reloads.mu.Lock()
	a.reloads.reloaders = append(a.reloads.reloaders, r)
	a.reloads.mu.Unlock()
}

// Reload reads the reloadable configuration again and applies it when all
// of it is valid; otherwise it changes nothing and returns an error
// wrapping admin.ErrInvalidConfig. Sessions of removed accounts are
// unbound in the background.
func (a *App) Reload(ctx context.Context) (smpp.ReloadResult, error) {
	a.reloads.mu.Lock()
	defer a.reloads.mu.Unlock()
	applies := make([]func() smpp.ReloadResult, 0, len(a.reloads.reloaders))
	in := &ReloadInput{cfg: a.cfg}
	for _, r := range a.reloads.reloaders {
		apply, err := r.Prepare(ctx, in)
		if err != nil {
			part := r.Name()
			if in.err != nil && errors.Is(err, in.err) { // any part that needs the accounts file fails on it
				part = accountsReloader{}.Name()
			}
			a.reloads.total.WithLabelValues("failure").Inc()
			a.log.Error("config.reload.failed", "part", part, "error", err.Error(),
				"detail", "the configuration in use is kept")
			return smpp.ReloadResult{}, fmt.Errorf("%w: %w", admin.ErrInvalidConfig, err)
		}
		applies = append(applies, apply)
	}
	var res smpp.ReloadResult
	for _, apply := range applies {
		r := apply()
		res.Added = append(res.Added, r.Added...)
		res.Removed = append(res.Removed, r.Removed...)
		res.Changed = append(res.Changed, r.Changed...)
	}
	res.Added, res.Removed = sortedSet(res.Added), sortedSet(res.Removed)
	// An added account is not also "changed" because its region is new.
	res.Changed = slices.DeleteFunc(sortedSet(res.Changed), func(id string) bool { return slices.Contains(res.Added, id) })
	a.reloads.total.WithLabelValues("success").Inc()
	a.log.Info("config.reload.succeeded", "added", res.Added, "removed", res.Removed, "changed", res.Changed)
	for _, id := range res.Removed {
		a.unbindRemoved(id)
	}
	return res, nil
}

// unbindRemoved unbinds the sessions of a removed account in the
// background, each within the response timeout.
func (a *App) unbindRemoved(systemID string) {
	if a.server == nil {
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		ctx, cancel := context.WithTimeout(a.runCtx, a.cfg.SMPP.ResponseTimeout+time.Second)
		defer cancel()
		if n := a.server.UnbindAccount(ctx, systemID); n > 0 {
			a.log.Info("smpp.account.removed", "system_id", systemID, "sessions_unbound", n)
		}
	}()
}

// accountsReloader applies SMPP_ACCOUNTS_FILE read again.
type accountsReloader struct {
	accounts *smpp.Accounts
	// defaultPending is the cap of an account without
	// max_pending_receipts (DLR_MAX_PENDING_PER_ACCOUNT).
	defaultPending int
	// applied learns the account ids in force after each reload (the
	// per-account receipt gauge follows them).
	applied func(systemIDs []string)
}

func (r accountsReloader) Name() string { return "SMPP_ACCOUNTS_FILE" }

func (r accountsReloader) Prepare(_ context.Context, in *ReloadInput) (func() smpp.ReloadResult, error) {
	accounts, err := in.Accounts()
	if err != nil {
		return nil, err
	}
	converted := convertAccounts(accounts, r.defaultPending)
	return func() smpp.ReloadResult {
		// Followed before they can bind: an added account's first
		// receipts are counted (the gauge adds no account it was not
		// told of).
		r.applied(accountIDs(converted))
		return r.accounts.Replace(converted)
	}, nil
}

// buildAccounts makes the reloadable account set: with Redis its
// throughput limits are shared by every instance.
func (a *App) buildAccounts() {
	var opts smpp.AccountsOptions
	if a.rdb != nil {
		a.limits = sharedlimits.New(a.rdb, sharedlimits.Options{
			Prefix:     a.cfg.Redis.KeyPrefix,
			Instance:   a.cfg.Instance.ID + ":" + randomSuffix(),
			LeaseTTL:   a.cfg.Instance.BindLease,
			Timeout:    a.cfg.Redis.Timeout,
			Logger:     a.log,
			Registerer: a.registry,
		})
		opts.Throttle = a.limits.Throttle
	}
	initial := Accounts(a.cfg)
	a.accounts = smpp.NewAccountsWith(initial, opts)
	a.dispatcher.SetAccounts(accountIDs(initial))
	a.AddReloader(accountsReloader{accounts: a.accounts, defaultPending: a.cfg.DLR.MaxPendingPerAccount, applied: a.dispatcher.SetAccounts})
}

func accountIDs(accounts []smpp.Account) []string {
	ids := make([]string, len(accounts))
	for i, acc := range accounts {
		ids[i] = acc.SystemID
	}
	return ids
}

// bindLeases are the shared bind leases, or nil (an untyped nil: per
// instance) without Redis.
func (a *App) bindLeases() smpp.BindLeases {
	if a.limits == nil {
		return nil
	}
	return a.limits
}

// randomSuffix tells apart two instances started with the same
// INSTANCE_ID, so they never share bind leases.
func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// numberingReloader reads HLR_RULES_FILE and the accounts' default_region
// again.
type numberingReloader struct {
	cfg      config.Config
	resolver *hlr.Resolver
	codes    hlr.ErrCodes
	log      *slog.Logger // warns of rules for accounts not configured
}

func (r numberingReloader) Name() string { return "HLR_RULES_FILE" }

func (r numberingReloader) Prepare(_ context.Context, in *ReloadInput) (func() smpp.ReloadResult, error) {
	accounts, err := in.Accounts()
	if err != nil {
		return nil, err
	}
	var rules *hlr.Rules
	if r.cfg.HLR.RulesFile != "" {
		if rules, err = hlr.ReadRulesFile(r.cfg.HLR.RulesFile, r.codes); err != nil {
			return nil, fmt.Errorf("config: HLR_RULES_FILE: %w", err)
		}
	}
	regions := AccountRegions(accounts)
	warnings := RulesFileWarnings(r.cfg.HLR.RulesFile, rules, accounts)
	return func() smpp.ReloadResult {
		for _, w := range warnings {
			r.log.Warn(EventRulesUnknownAccount, "detail", w)
		}
		var changed []string
		for _, a := range accounts {
			if r.resolver.Region(a.SystemID) != r.resolverRegion(regions, a.SystemID) {
				changed = append(changed, a.SystemID)
			}
		}
		r.resolver.SetAccountRegions(regions)
		if rules != nil && r.resolver.Rules() != nil {
			r.resolver.Rules().Replace(rules)
		}
		return smpp.ReloadResult{Changed: changed}
	}, nil
}

// resolverRegion is the region the resolver will use for id once regions
// are in use: the account's own, else HLR_DEFAULT_REGION.
func (r numberingReloader) resolverRegion(regions map[string]string, id string) string {
	if reg, ok := regions[id]; ok {
		return reg
	}
	return r.cfg.HLR.DefaultRegion
}

// sortedSet sorts ids and drops repeats; never nil, so JSON shows [].
func sortedSet(ids []string) []string {
	out := slices.Compact(slices.Sorted(slices.Values(ids)))
	if out == nil {
		out = []string{}
	}
	return out
}
