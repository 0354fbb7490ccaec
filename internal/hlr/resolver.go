package hlr

import (
	"context"
	"sync/atomic"
)

// Precheck says when the numbering-plan precheck runs (HLR_PRECHECK).
type Precheck uint8

// Precheck modes.
const (
	// PrecheckAuto runs the precheck for destinations that have a region
	// (the account's default_region or HLR_DEFAULT_REGION).
	PrecheckAuto Precheck = iota
	PrecheckOn            // for every destination
	PrecheckOff           // never
)

// Destination is the destination address of one account's submit.
type Destination struct {
	Account string // the bound system_id; selects default_region and allow/deny lists
	Addr    string // destination_addr as sent
	TON     uint8  // dest_addr_ton
}

// CachedLookuper is implemented by a Lookuper that can answer from memory
// without blocking and without counting ([Chain]). The answer is shared
// and must not be modified.
type CachedLookuper interface {
	Cached(msisdn string) (*Result, bool)
}

// ResolverOptions configures NewResolver.
type ResolverOptions struct {
	// Numbering reads the addresses (nil: NewNumbering()).
	Numbering *Numbering
	// DefaultRegion applies to accounts without one (HLR_DEFAULT_REGION;
	// "" none).
	DefaultRegion string
	// AccountRegions maps system_id to default_region (replace them with
	// SetAccountRegions).
	AccountRegions map[string]string
	Precheck       Precheck
	// Rules answer prefixes without a lookup (nil: none).
	Rules *RulesHolder
	// ErrCodes gives the receipt err of a destination that is not a number
	// or cannot exist (InvalidNumber) and of an allowed one (Other).
	ErrCodes ErrCodes
	Metrics  *Metrics
}

// Resolver answers an account's destination: it normalises the address
// to E.164, then answers from the rules, the numbering-plan precheck or the
// lookup chain, in that order. Every answer given without the chain is
// counted in hlr_lookups_avoided_total. It is safe for concurrent use.
type Resolver struct {
	next      Lookuper
	cached    CachedLookuper // nil: next cannot answer from memory
	numbering *Numbering
	region    string
	regions   atomic.Pointer[map[string]string]
	precheck  Precheck
	rules     *RulesHolder
	codes     ErrCodes
	m         *Metrics
}

// NewResolver puts the rules and the precheck in front of next.
func NewResolver(next Lookuper, o ResolverOptions) *Resolver {
	if o.Numbering == nil {
		o.Numbering = NewNumbering()
	}
	r := &Resolver{next: next, numbering: o.Numbering, region: o.DefaultRegion, precheck: o.Precheck,
		rules: o.Rules, codes: o.ErrCodes.withDefaults(), m: o.Metrics}
	r.cached, _ = next.(CachedLookuper)
	r.SetAccountRegions(o.AccountRegions)
	return r
}

// SetAccountRegions replaces the default regions of the accounts (after
// the accounts file is reloaded).
func (r *Resolver) SetAccountRegions(regions map[string]string) {
	m := make(map[string]string, len(regions))
	for k, v := range regions {
		if v != "" {
			m[k] = v
		}
	}
	r.regions.Store(&m)
}

// Rules returns the holder of the rules (nil: none), for a reload.
func (r *Resolver) Rules() *RulesHolder { return r.rules }

// Region returns the default region of account's destinations.
func (r *Resolver) Region(account string) string {
	// Most deployments set no account region: skip the map's call then.
	if m := *r.regions.Load(); len(m) != 0 {
		if reg, ok := m[account]; ok {
			return reg
		}
	}
	return r.region
}

// Resolve answers d. msisdn is its E.164 form ("" when it is not a
// number). The error is the chain's, when it had no usable answer.
func (r *Resolver) Resolve(ctx context.Context, d Destination) (msisdn string, res Result, err error) {
	region := r.Region(d.Account)
	msisdn, res, ok := r.answerWithoutLookup(d, region)
	if ok {
		r.m.avoidBySource(res.Source)
		return msisdn, res, nil
	}
	if r.prechecks(region) && r.numbering.Impossible(msisdn) {
		r.m.avoid(byPrecheck)
		return msisdn, Result{Class: ClassInvalid, Reason: ReasonInvalidNumber, ErrCode: r.codes.InvalidNumber, Source: SourcePrecheck}, nil
	}
	res, err = r.next.Lookup(WithAccount(ctx, d.Account), msisdn)
	return msisdn, res, err
}

// Cached answers d without blocking when it can: a destination that is
// not a number, a rule, or an answer in the in-process cache tier. It is
// for the SMPP reader goroutine; it never asks the provider or Redis, and
// counts nothing: call Answered with an answer that is used, or Resolve
// (which counts) instead. A national spelling, which needs the numbering
// plan (microseconds of parsing), is left to Resolve.
func (r *Resolver) Cached(d Destination) (Result, bool) {
	msisdn, needsPlan, err := r.numbering.NormalizeQuick(d.Addr, d.TON, r.Region(d.Account))
	switch {
	case err != nil:
		return r.notANumber(), true
	case needsPlan:
		return Result{}, false
	}
	// Without rules, skip Match: a miss still returns a zeroed Result
	// (~200 bytes), a noticeable part of this path.
	if rules := r.rules.Load(); rules != nil {
		if res, ok := rules.Match(d.Account, msisdn, r.codes.Other); ok {
			return res, true
		}
	}
	if r.cached == nil {
		return Result{}, false
	}
	if res, ok := r.cached.Cached(msisdn); ok {
		return *res, true // the one copy: the cached answer is shared
	}
	return Result{}, false
}

func (r *Resolver) notANumber() Result {
	return Result{Class: ClassInvalid, Reason: ReasonInvalidNumber, ErrCode: r.codes.InvalidNumber, Source: SourceNotANumber}
}

// Answered counts an answer of Cached that was used. It is small enough
// to be inlined, so that the caller passes only res.Source, not a copy of
// res.
func (r *Resolver) Answered(res Result) {
	r.m.answered(res.Source)
}

// answerWithoutLookup normalises d and applies the rules.
func (r *Resolver) answerWithoutLookup(d Destination, region string) (string, Result, bool) {
	msisdn, err := r.numbering.Normalize(d.Addr, d.TON, region)
	if err != nil {
		return "", r.notANumber(), true
	}
	if res, ok := r.rules.Load().Match(d.Account, msisdn, r.codes.Other); ok {
		return msisdn, res, true
	}
	return msisdn, Result{}, false
}

func (r *Resolver) prechecks(region string) bool {
	switch r.precheck {
	case PrecheckOn:
		return true
	case PrecheckAuto:
		return region != ""
	default:
		return false
	}
}
