//go:build interop

package interop

import (
	"os/exec"
	"testing"
)

// perlClient is perl/smpp_client.pl on Debian's libnet-smpp-perl.
func perlClient(t *testing.T) client {
	t.Helper()
	perl, err := exec.LookPath("perl")
	ok := err == nil && exec.Command(perl, "-MNet::SMPP", "-MJSON::PP", "-e", "1").Run() == nil
	requireTool(t, "Perl Net::SMPP", ok, "Debian package libnet-smpp-perl")
	return client{name: "Net::SMPP", interp: perl, script: "perl/smpp_client.pl"}
}

// TestPerlNetSMPPSession: bind modes, bind errors, state table, generic_nack,
// enquire_link and unbind, as Net::SMPP sees them.
func TestPerlNetSMPPSession(t *testing.T) {
	sessionScenarios(t, perlClient(t))
}

// TestPerlNetSMPPReceipts: 0x0B for a live number, DELIVRD receipts whose id
// matches for the others.
func TestPerlNetSMPPReceipts(t *testing.T) {
	receiptScenarios(t, perlClient(t))
}

// TestPerlNetSMPPLimits: throughput and window limits answer 0x58.
func TestPerlNetSMPPLimits(t *testing.T) {
	limitScenarios(t, perlClient(t))
}

// TestPerlNetSMPPInterfaceVersion: a v3.3 bind gets no TLV, in its bind response or its receipts.
func TestPerlNetSMPPInterfaceVersion(t *testing.T) {
	interfaceVersionScenarios(t, perlClient(t))
}
