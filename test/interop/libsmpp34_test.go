//go:build interop

package interop

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// libsmpp34Include holds smpp34.h and the headers it includes by relative path.
const libsmpp34Include = "/usr/include/libsmpp34"

// libsmpp34Client compiles libsmpp34/smpp_client.c with gcc against
// -lsmpp34 (Debian libsmpp34-dev) into the test's temporary directory. The
// client unpacks every PDU it reads with libsmpp34 and fails the run when
// that fails, except for an error response that is the bare header (libsmpp34
// wants a system_id in every bind response, whatever its status).
func libsmpp34Client(t *testing.T) client {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	requireTool(t, "gcc", err == nil, "Debian package gcc")
	_, err = os.Stat(filepath.Join(libsmpp34Include, "smpp34.h"))
	requireTool(t, "libsmpp34", err == nil, "Debian package libsmpp34-dev")

	bin := filepath.Join(t.TempDir(), "smpp_client")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cc := exec.CommandContext(ctx, gcc, "-O2", "-Wall", "-Werror", "-I"+libsmpp34Include,
		"-o", bin, filepath.Join("libsmpp34", "smpp_client.c"), "-lsmpp34")
	cc.Env = cleanEnv()
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("compiling libsmpp34/smpp_client.c: %v\n%s", err, out)
	}
	return client{name: "libsmpp34", interp: bin}
}

// TestLibsmpp34Session: bind modes, bind errors, state table, generic_nack,
// enquire_link and unbind, as libsmpp34 unpacks them.
func TestLibsmpp34Session(t *testing.T) {
	sessionScenarios(t, libsmpp34Client(t))
}

// TestLibsmpp34Receipts: 0x0B for a live number, DELIVRD receipts whose id
// matches for the others.
func TestLibsmpp34Receipts(t *testing.T) {
	receiptScenarios(t, libsmpp34Client(t))
}

// TestLibsmpp34Limits: throughput and window limits answer 0x58.
func TestLibsmpp34Limits(t *testing.T) {
	limitScenarios(t, libsmpp34Client(t))
}

// TestLibsmpp34InterfaceVersion: a v3.3 bind gets no TLV, in its bind response or its receipts.
func TestLibsmpp34InterfaceVersion(t *testing.T) {
	interfaceVersionScenarios(t, libsmpp34Client(t))
}
