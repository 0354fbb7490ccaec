package hlr

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync/atomic"

	"go.yaml.in/yaml/v3"

	"github.com/smpp-hlr-gateway/gateway/internal/readfile"
	"github.com/smpp-hlr-gateway/gateway/internal/yamldoc"
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
	prefixes *trie
	deny     map[string]*trie // account → its deny prefixes
	allow    map[string]*trie
	n        int
}

// trie is a digit tree of prefixes: a match walks at most one node per
// digit of the number, without hashing or allocating.
type trie struct {
	next [10]*trie
	res  *Result // the answer of the prefix ending here (nil: none)
}

// insert adds prefix (digits) with res; false when it is already there.
func (t *trie) insert(prefix string, res Result) bool {
	for i := 0; i < len(prefix); i++ {
		d := prefix[i] - '0'
		if t.next[d] == nil {
			t.next[d] = &trie{}
		}
		t = t.next[d]
	}
	if t.res != nil {
		return false
	}
	t.res = &res
	return true
}

// longest returns the answer of the longest prefix of msisdn in t.
func (t *trie) longest(msisdn string) *Result {
	var found *Result
	for i := 0; t != nil; i++ {
		if t.res != nil {
			found = t.res
		}
		if i == len(msisdn) || msisdn[i] < '0' || msisdn[i] > '9' {
			break
		}
		t = t.next[msisdn[i]-'0']
	}
	return found
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
	if err := yamldoc.OnlyOne(dec); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRules, err)
	}
	r := &Rules{prefixes: &trie{}, deny: map[string]*trie{}, allow: map[string]*trie{}}
	for i, p := range doc.Prefixes {
		if err := checkPrefix(p.Prefix); err != nil {
			return nil, fmt.Errorf("%w: prefixes[%d]: %w", ErrRules, i, err)
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
		if !r.prefixes.insert(p.Prefix, res) {
			return nil, fmt.Errorf("%w: prefixes[%d]: prefix %q is listed twice", ErrRules, i, p.Prefix)
		}
		r.n++
	}
	for account, a := range doc.Accounts {
		for _, l := range []struct {
			name     string
			prefixes []string
			into     map[string]*trie
		}{{"deny", a.Deny, r.deny}, {"allow", a.Allow, r.allow}} {
			for _, p := range l.prefixes {
				if err := checkPrefix(p); err != nil {
					return nil, fmt.Errorf("%w: accounts.%s.%s: %w", ErrRules, account, l.name, err)
				}
				if l.into[account] == nil {
					l.into[account] = &trie{}
				}
				if l.into[account].insert(p, Result{}) {
					r.n++
				}
			}
		}
	}
	return r, nil
}

// ReadRulesFile reads and parses a rules file.
func ReadRulesFile(path string, codes ErrCodes) (*Rules, error) {
	data, err := readfile.Regular(path, readfile.MaxConfigBytes)
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
	if len(r.deny) > 0 && r.deny[account].longest(msisdn) != nil {
		return Result{Class: ClassValid, Reason: ReasonRuleDeny, Source: SourceRule}, true
	}
	if len(r.allow) > 0 && r.allow[account].longest(msisdn) != nil {
		return Result{Class: ClassInvalid, Reason: ReasonRuleAllow, ErrCode: allowErr, Source: SourceRule}, true
	}
	if res := r.prefixes.longest(msisdn); res != nil {
		return *res, true
	}
	return Result{}, false
}

// Accounts returns the system_ids the rules have allow or deny lists for,
// sorted.
func (r *Rules) Accounts() []string {
	if r == nil {
		return nil
	}
	seen := make(map[string]bool, len(r.deny)+len(r.allow))
	for a := range r.deny {
		seen[a] = true
	}
	for a := range r.allow {
		seen[a] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// Len returns the number of prefix rules and account list entries.
func (r *Rules) Len() int {
	if r == nil {
		return 0
	}
	return r.n
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
