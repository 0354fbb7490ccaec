package simulator

import (
	"strings"
	"time"
)

// Kind is what a rule does.
type Kind uint8

// Kinds.
const (
	KindAnswer    Kind = iota // an HLR answer (possibly status 1/2/3)
	KindSlow                  // answer only after SlowDelay
	KindHTTPError             // HTTP 500
)

// SlowDelay is how long the slow rule takes: longer than any sane timeout.
const SlowDelay = 30 * time.Second

// Rule is one line of the simulator's table.
type Rule struct {
	Name          string
	Kind          Kind
	Status        int
	StatusMessage string
	Error         int
	Present       string
	Type          string
	Network       string
	MCC, MNC      string
}

var (
	ruleValid = Rule{Name: "valid", Status: 0, StatusMessage: "Success", Present: "yes", Type: "mobile",
		Network: "Simulated Mobile", MCC: "001", MNC: "01"}
	ruleInvalid = Rule{Name: "invalid_number", Status: 1, StatusMessage: "Invalid Number"}
	ruleUnknown = Rule{Name: "unknown_subscriber", StatusMessage: "Success", Error: 1, Present: "no", Type: "mobile",
		Network: "Simulated Mobile", MCC: "001", MNC: "01"}
	ruleUnreachable = Rule{Name: "unreachable", StatusMessage: "Success", Error: 2, Present: "no", Type: "mobile",
		Network: "Simulated Mobile", MCC: "001", MNC: "01"}
	ruleCongestion    = Rule{Name: "congestion", Status: 3, StatusMessage: "Congestion"}
	ruleNotAuthorised = Rule{Name: "not_authorised", Status: 2, StatusMessage: "Not Authorised"}
	ruleAbsent        = Rule{Name: "absent", StatusMessage: "Success", Error: 27, Present: "no", Type: "mobile",
		Network: "Simulated Mobile", MCC: "001", MNC: "01"}
	ruleNetCongestion = Rule{Name: "network_congestion", StatusMessage: "Success", Error: 33, Present: "na", Type: "mobile",
		Network: "Simulated Mobile", MCC: "001", MNC: "01"}
	rule191 = Rule{Name: "network_not_supported_191", StatusMessage: "Success", Error: 191, Present: "na", Type: "mobile",
		Network: "Simulated Mobile", MCC: "001", MNC: "01"}
	rule192 = Rule{Name: "network_not_supported_192", StatusMessage: "Success", Error: 192, Present: "na", Type: "mobile",
		Network: "Simulated Mobile", MCC: "001", MNC: "01"}
	ruleLandline = Rule{Name: "landline", StatusMessage: "Success", Error: 193, Present: "na", Type: "fixed",
		Network: "Simulated Fixed", MCC: "001", MNC: "02"}
	ruleSlow      = Rule{Name: "slow", Kind: KindSlow}
	ruleHTTPError = Rule{Name: "http_500", Kind: KindHTTPError}
)

// RuleFor returns the rule for msisdn (see the package documentation). It
// is a pure function of the number.
func RuleFor(msisdn string) Rule {
	switch msisdn {
	case "13476841841":
		r := ruleValid
		r.Network, r.MCC, r.MNC = "Verizon Wireless", "311", "480"
		return r
	case "40722570240999":
		return ruleInvalid
	case "2347010000044":
		r := rule191
		r.Network, r.MCC, r.MNC = "MTN Nigeria", "621", "30"
		return r
	case "33387840133":
		r := ruleLandline
		r.Network, r.MCC, r.MNC = "Orange France Fixed", "208", "01"
		return r
	}
	if !digits(msisdn) {
		return ruleInvalid
	}
	switch {
	case strings.HasPrefix(msisdn, "1999"):
		return ruleValid
	case strings.HasPrefix(msisdn, "4099"):
		return ruleInvalid
	}
	if len(msisdn) >= 4 {
		switch msisdn[len(msisdn)-4:] {
		case "0001":
			return ruleUnknown
		case "0002":
			return ruleUnreachable
		case "0003":
			return ruleCongestion
		case "0004":
			return ruleNotAuthorised
		case "0027":
			return ruleAbsent
		case "0033":
			return ruleNetCongestion
		case "0191":
			return rule191
		case "0192":
			return rule192
		case "0193":
			return ruleLandline
		case "0408":
			return ruleSlow
		case "0500":
			return ruleHTTPError
		}
	}
	switch msisdn[len(msisdn)-1] {
	case '6':
		return ruleInvalid
	case '7':
		return ruleUnknown
	case '8':
		return ruleAbsent
	case '9':
		return ruleLandline
	default:
		return ruleValid
	}
}

func digits(s string) bool {
	if len(s) < 1 || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
