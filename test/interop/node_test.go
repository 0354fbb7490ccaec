//go:build interop

package interop

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// nodeClient is node/smpp_client.js on node-smpp 0.5.1 (npm ci in node/).
func nodeClient(t *testing.T) client {
	t.Helper()
	node, err := exec.LookPath("node")
	requireTool(t, "Node.js", err == nil, "Debian package nodejs")
	_, err = os.Stat("node/node_modules/smpp/package.json")
	requireTool(t, "node-smpp", err == nil, "npm ci in test/interop/node")
	return client{name: "node-smpp", interp: node, script: "node/smpp_client.js"}
}

// TestNodeSMPPSession: bind modes, bind errors, state table, generic_nack,
// enquire_link and unbind, as node-smpp sees them.
func TestNodeSMPPSession(t *testing.T) {
	sessionScenarios(t, nodeClient(t))
}

// TestNodeSMPPReceipts: 0x0B for a live number, DELIVRD receipts whose id
// matches for the others.
func TestNodeSMPPReceipts(t *testing.T) {
	receiptScenarios(t, nodeClient(t))
}

// TestNodeSMPPLimits: throughput and window limits answer 0x58.
func TestNodeSMPPLimits(t *testing.T) {
	limitScenarios(t, nodeClient(t))
}

// TestNodeSMPPTLS: a transceiver bind over the TLS listener (self-signed
// certificate made by the harness), enquire_link, a submit answered 0x0B, unbind.
func TestNodeSMPPTLS(t *testing.T) {
	c := nodeClient(t)
	g := startGateway(t, gatewayOptions{tls: true})
	r := runClient(t, c, g, "tls_bind", 30*time.Second,
		"--tls-port", strconv.Itoa(g.tlsPort), "--destination", validNumber)
	mustSucceed(t, r)
	conn := r.one(t, "connect")
	if !conn.TLS {
		t.Fatalf("the client did not connect over TLS\n%s", r)
	}
	t.Logf("TLS: %s", conn.TLSProtocol)
	wantResp(t, r, r.one(t, "bind_transceiver"), bindTransceiverResp, statusOK)
	wantResp(t, r, r.one(t, "enquire_link"), enquireLinkResp, statusOK)
	wantResp(t, r, r.one(t, "submit_sm"), submitSMResp, statusInvDstAdr)
	wantResp(t, r, r.one(t, "unbind"), unbindResp, statusOK)
}

// TestNodeSMPPInterfaceVersion: a v3.3 bind gets no TLV, in its bind response or its receipts.
func TestNodeSMPPInterfaceVersion(t *testing.T) {
	interfaceVersionScenarios(t, nodeClient(t))
}
