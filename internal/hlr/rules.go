package hlr

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"go.yaml.in/yaml/v3"
)

// ErrRules is matched by errors in a rules file's content.
var ErrRules = errors.New("hlr: bad rules file")

// Reasons of answers given by rules (Result.Reason, Source SourceRule).
const (
	ReasonRuleDeny  = "account_deny"  // the account's deny list: rejected as if live
	ReasonRuleAllow = "account_allow" // the account's allow list: accepted
	ReasonRule      = "rule"          // a prefix rule without its own reason
)

// Rules answers numbers without a billed lookup (HLR_RULES_FILE): number
// prefixes with a fixed class (ranges the provider does not cover, landline
// or test ranges), and per-account allow and deny lists. It is immutable;
// [RulesHolder] swaps it on a reload.
//
// Matching is on E.164 digits, after normalisation. For a submit of
// account A, A's deny list is consulted first (a match rejects, as if the
// number were live), then A's allow list (a match accepts without a
// lookup), then the prefix rules; within each, the longest prefix wins.
type Rules struct {
	prefixes map[string]Result
	deny     map[string]map[string]struct{} // account → prefixes
	allow    map[string]map[string]struct{}
}

type rulesDoc struct {
	Prefixes []prefixRuleYAML           `yaml:"prefixes"`
	Accounts map[string]accountRuleYAML `yaml:"accounts"`
}

type prefixRuleYAML struct {
	Prefix string `yaml:"prefix"`
	Class  string `yaml:"class"`  // valid | invalid
	Reason string `yaml:"reason"` // optional, [a-z0-9_]
	Err    string `yaml:"err"`    // receipt err of an invalid class; default: the "other" code
}

type accountRuleYAML struct {
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
}

// ParseRules decodes the YAML rules format:
//
//	prefixes:
//	  - prefix: "447700900"   # E.164 digits, no '+'
//	    class: invalid        # valid (reject as live) or invalid (accept)
//	    reason: test_range    # optional; default "rule"
//	    err: "000"            # optional receipt err of an invalid class
//	accounts:
//	  alice:
//	    deny: ["1900"]        # reject without a lookup, as if live
//	    allow: ["4479"]       # accept without a lookup
//
// Unknown keys are errors. codes gives the default err of an invalid
// class (codes.Other) and of an allowed number.
func ParseRules(data []byte, codes ErrCodes) (*Rules, error) {
	codes = codes.withDefaults()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc rulesDoc
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %w", ErrRules, err)
	}
	r := &Rules{prefixes: map[string]Result{}, deny: map[string]map[string]struct{}{}, allow: map[string]map[string]struct{}{}}
	for i, p := range doc.Prefixes {
		if err := checkPrefix(p.Prefix); err != nil {
			return nil, fmt.Errorf("%w: prefixes[%d]: %w", ErrRules, i, err)
		}
		if _, dup := r.prefixes[p.Prefix]; dup {
			return nil, fmt.Errorf("%w: prefixes[%d]: prefix %q is listed twice", ErrRules, i, p.Prefix)
		}
		res := Result{Reason: p.Reason, Source: SourceRule}
		if res.Reason == "" {
			res.Reason = ReasonRule
		}
		if !validReason(res.Reason) {
			return nil, fmt.Errorf("%w: prefixes[%d]: reason %q must be 1-32 of a-z 0-9 _", ErrRules, i, p.Reason)
		}
		switch p.Class {
		case "valid":
			res.Class = ClassValid
			if p.Err != "" {
				return nil, fmt.Errorf("%w: prefixes[%d]: err applies to the invalid class only", ErrRules, i)
			}
		case "invalid":
			res.Class, res.ErrCode = ClassInvalid, codes.Other
			if p.Err != "" {
				if len(p.Err) != 3 || !allDigits(p.Err) {
					return nil, fmt.Errorf("%w: prefixes[%d]: err %q is not three digits", ErrRules, i, p.Err)
				}
				res.ErrCode = p.Err
			}
		default:
			return nil, fmt.Errorf("%w: prefixes[%d]: class %q is not valid or invalid", ErrRules, i, p.Class)
		}
		r.prefixes[p.Prefix] = res
	}
	for account, a := range doc.Accounts {
		for _, l := range []struct {
			name     string
			prefixes []string
			into     map[string]map[string]struct{}
		}{{"deny", a.Deny, r.deny}, {"allow", a.Allow, r.allow}} {
			for _, p := range l.prefixes {
				if err := checkPrefix(p); err != nil {
					return nil, fmt.Errorf("%w: accounts.%s.%s: %w", ErrRules, account, l.name, err)
				}
				if l.into[account] == nil {
					l.into[account] = map[string]struct{}{}
				}
				l.into[account][p] = struct{}{}
			}
		}
	}
	return r, nil
}

// ReadRulesFile reads and parses a rules file.
func ReadRulesFile(path string, codes ErrCodes) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("hlr: rules file: %w", err)
	}
	r, err := ParseRules(data, codes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

func checkPrefix(p string) error {
	if p == "" || len(p) > 15 || !allDigits(p) {
		return fmt.Errorf("prefix %q is not 1-15 digits (E.164, no '+')", p)
	}
	return nil
}

func validReason(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// Match returns the answer the rules give msisdn for account, without
// allocating. allowErr is the receipt err of an allowed number.
func (r *Rules) Match(account, msisdn, allowErr string) (Result, bool) {
	if r == nil {
		return Result{}, false
	}
	if longestPrefix(r.deny[account], msisdn) {
		return Result{Class: ClassValid, Reason: ReasonRuleDeny, Source: SourceRule}, true
	}
	if longestPrefix(r.allow[account], msisdn) {
		return Result{Class: ClassInvalid, Reason: ReasonRuleAllow, ErrCode: allowErr, Source: SourceRule}, true
	}
	for i := len(msisdn); i > 0 && len(r.prefixes) > 0; i-- {
		if res, ok := r.prefixes[msisdn[:i]]; ok {
			return res, true
		}
	}
	return Result{}, false
}

// Len returns the number of prefix rules and account list entries.
func (r *Rules) Len() int {
	if r == nil {
		return 0
	}
	n := len(r.prefixes)
	for _, m := range r.deny {
		n += len(m)
	}
	for _, m := range r.allow {
		n += len(m)
	}
	return n
}

func longestPrefix(set map[string]struct{}, msisdn string) bool {
	if len(set) == 0 {
		return false
	}
	for i := len(msisdn); i > 0; i-- {
		if _, ok := set[msisdn[:i]]; ok {
			return true
		}
	}
	return false
}

// RulesHolder holds the rules in use and swaps them atomically: a reload
// never leaves a lookup with half a rule set. The zero value holds no
// rules.
type RulesHolder struct {
	path  string
	codes ErrCodes
	cur   atomic.Pointer[Rules]
}

// NewRulesHolder reads path (HLR_RULES_FILE; "" holds no rules and
// Reload does nothing).
func NewRulesHolder(path string, codes ErrCodes) (*RulesHolder, error) {
	h := &RulesHolder{path: path, codes: codes}
	if err := h.Reload(); err != nil {
		return nil, err
	}
	return h, nil
}

// Load returns the rules in use (nil: none).
func (h *RulesHolder) Load() *Rules {
	if h == nil {
		return nil
	}
	return h.cur.Load()
}

// Replace puts r in use.
func (h *RulesHolder) Replace(r *Rules) { h.cur.Store(r) }

// Reload reads the rules file again and puts it in use; on an error the
// rules in use stay.
func (h *RulesHolder) Reload() error {
	if h.path == "" {
		return nil
	}
	r, err := ReadRulesFile(h.path, h.codes)
	if err != nil {
		return err
	}
	h.Replace(r)
	return nil
}
