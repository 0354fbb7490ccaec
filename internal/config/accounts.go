package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
	"github.com/smpp-hlr-gateway/gateway/internal/readfile"
	"github.com/smpp-hlr-gateway/gateway/internal/yamldoc"
)

// Account is one ESME login.
type Account struct {
	SystemID        string
	Password        string
	MaxBinds        int            // simultaneous binds; 0 = unlimited
	Throughput      float64        // messages per second; 0 = unlimited
	AllowedNetworks []netip.Prefix // client addresses allowed to bind; empty = any
	// MaxPendingReceipts caps the account's pending receipts (over it a
	// submit gets ESME_RMSGQFUL); 0 = DLR_MAX_PENDING_PER_ACCOUNT.
	MaxPendingReceipts int
	DefaultRegion      string // region of its national numbers (ISO 3166-1); "" = HLR_DEFAULT_REGION
}

// Allows reports whether a client address may bind to the account.
func (a Account) Allows(addr netip.Addr) bool {
	if len(a.AllowedNetworks) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, p := range a.AllowedNetworks {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Accounts returns the accounts of SMPP_ACCOUNTS_FILE when it is set, else
// the single account SMPP_SYSTEM_ID / SMPP_PASSWORD. The slice is a copy.
func (c Config) Accounts() []Account {
	if c.SMPP.AccountsFile != "" {
		out := make([]Account, len(c.SMPP.FileAccounts))
		copy(out, c.SMPP.FileAccounts)
		return out
	}
	return []Account{{SystemID: c.SMPP.SystemID, Password: c.SMPP.Password}}
}

// accountsFileVar names the variable in accounts errors.
const accountsFileVar = "SMPP_ACCOUNTS_FILE"

// ErrAccounts is matched by errors in the accounts file's content.
var ErrAccounts = errors.New("config: bad accounts file")

type accountsDoc struct {
	Accounts []accountYAML `yaml:"accounts"`
}

type accountYAML struct {
	SystemID        string   `yaml:"system_id"`
	Password        string   `yaml:"password"`
	MaxBinds        int      `yaml:"max_binds"`
	Throughput      float64  `yaml:"throughput"`
	AllowedNetworks []string `yaml:"allowed_networks"`
	MaxPending      int      `yaml:"max_pending_receipts"`
	DefaultRegion   string   `yaml:"default_region"`
}

// ReadAccountsFile reads and parses an accounts file. Errors name
// SMPP_ACCOUNTS_FILE and never contain a password.
func ReadAccountsFile(path string) ([]Account, error) {
	data, err := readfile.Regular(path, readfile.MaxConfigBytes)
	if err != nil {
		return nil, fieldErrCause(accountsFileVar, err, "cannot read %q: %v", path, unwrapPathError(err))
	}
	accounts, err := ParseAccounts(data)
	if err != nil {
		// FieldError says "config: SMPP_ACCOUNTS_FILE:" already.
		msg := strings.TrimPrefix(err.Error(), ErrAccounts.Error()+": ")
		return nil, &FieldError{Var: accountsFileVar, Msg: fmt.Sprintf("%s: %s", path, msg), Err: err}
	}
	return accounts, nil
}

// ParseAccounts decodes the YAML accounts format:
//
//	accounts:
//	  - system_id: alice
//	    password: secret
//	    max_binds: 4
//	    throughput: 100
//	    allowed_networks: ["10.0.0.0/8", "192.0.2.7"]
//	    max_pending_receipts: 100000
//	    default_region: GB   # national destination numbers are British
//
// Unknown keys are errors (so typos do not pass silently). A bare address in
// allowed_networks means that single host. Content rules (lengths,
// uniqueness) are checked by Validate.
func ParseAccounts(data []byte) ([]Account, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc accountsDoc
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the file is empty", ErrAccounts)
		}
		return nil, fmt.Errorf("%w: %s", ErrAccounts, describeYAMLError(data, err))
	}
	if err := yamldoc.OnlyOne(dec); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAccounts, err)
	}
	if msg := checkAccountValues(data); msg != "" {
		return nil, fmt.Errorf("%w: %s", ErrAccounts, msg)
	}
	out := make([]Account, 0, len(doc.Accounts))
	for i, a := range doc.Accounts {
		acc := Account{SystemID: a.SystemID, Password: a.Password, MaxBinds: a.MaxBinds, Throughput: a.Throughput, MaxPendingReceipts: a.MaxPending}
		for _, n := range a.AllowedNetworks {
			p, err := parseNetwork(n)
			if err != nil {
				return nil, fmt.Errorf("%w: accounts[%d].allowed_networks: %q is not a CIDR or an address", ErrAccounts, i, n)
			}
			acc.AllowedNetworks = append(acc.AllowedNetworks, p)
		}
		acc.DefaultRegion = strings.ToUpper(a.DefaultRegion)
		out = append(out, acc)
	}
	return out, nil
}

func parseNetwork(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		// ::ffff:192.0.2.0/120 is the IPv4 network 192.0.2.0/24.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("config: parse network: %w", err)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// validateAccounts applies the SMPP field limits and uniqueness to the
// accounts of file (SMPP_ACCOUNTS_FILE), or with file empty to the
// default account of SMPP_SYSTEM_ID and SMPP_PASSWORD. Errors name the
// file and the account, as a syntax error names the file and the line.
func validateAccounts(accounts []Account, file string) error {
	fromFile := file != ""
	if fromFile && len(accounts) == 0 {
		return fieldErr(accountsFileVar, "%s: the file lists no accounts", file)
	}
	seen := make(map[string]int, len(accounts))
	for i, a := range accounts {
		idVar, pwVar, where := "SMPP_SYSTEM_ID", "SMPP_PASSWORD", ""
		if fromFile {
			idVar, pwVar, where = accountsFileVar, accountsFileVar, fmt.Sprintf("%s: accounts[%d]: ", file, i)
		}
		switch {
		case a.SystemID == "":
			return fieldErr(idVar, "%ssystem_id is empty", where)
		case len(a.SystemID) > MaxSystemIDLen:
			return fieldErr(idVar, "%ssystem_id %q is longer than %d characters", where, a.SystemID, MaxSystemIDLen)
		case a.Password == "":
			return fieldErr(pwVar, "%spassword of %q is empty", where, a.SystemID)
		case len(a.Password) > MaxPasswordLen:
			return fieldErr(pwVar, "%spassword of %q is longer than %d characters", where, a.SystemID, MaxPasswordLen)
		case a.MaxBinds < 0:
			return fieldErr(idVar, "%smax_binds of %q is negative", where, a.SystemID)
		case a.MaxPendingReceipts < 0:
			return fieldErr(idVar, "%smax_pending_receipts of %q is negative", where, a.SystemID)
		case a.Throughput != 0 && !(a.Throughput >= MinThroughput && a.Throughput <= MaxThroughput): // NaN too
			return fieldErr(idVar, "%sthroughput of %q must be 0 (unlimited) or from %g to %g messages per second", where, a.SystemID, float64(MinThroughput), float64(MaxThroughput))
		}
		if err := hlr.CheckRegion(a.DefaultRegion); err != nil {
			return fieldErr(idVar, "%sdefault_region of %q: %q is not an ISO 3166-1 region code with a numbering plan", where, a.SystemID, a.DefaultRegion)
		}
		if j, dup := seen[a.SystemID]; dup {
			return fieldErr(idVar, "%ssystem_id %q is already used by accounts[%d]", where, a.SystemID, j)
		}
		seen[a.SystemID] = i
	}
	return nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
