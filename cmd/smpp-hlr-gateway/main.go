// Command smpp-hlr-gateway is the SMPP HLR Gateway: an SMPP v3.4 server
// that filters submitted messages by an HLR lookup of their destination.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	summary string
	run     func(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int
}

func commands() map[string]command {
	return map[string]command{
		"serve":        {"run the gateway (the default)", runServe},
		"version":      {"print the version", runVersion},
		"check-config": {"validate the configuration as serve does; print it, secrets masked", runCheckConfig},
		"healthcheck":  {"exit 0 if the running gateway is alive (--ready: ready), else 1: healthcheck [--addr HOST:PORT]", runHealthcheck},
		"lookup":       {"look numbers up in the HLR: lookup [--json] MSISDN...", runLookup},
		"hlr-simulator": {"serve the HLR simulator as a TMT-compatible HTTP API: hlr-simulator [--port N]",
			func(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) int {
				return runHLRSimulator(ctx, args, stdout, stderr)
			}},
		"send":   {"bind, submit to numbers, wait for receipts: send [flags] MSISDN...", runSend},
		"bench":  {"load generator: bench [flags]", runBench},
		"demo":   {"run the gateway with the simulator and the four reference scenarios", runDemo},
		"status": {"print the running gateway's sessions and accounts: status [--addr HOST:PORT] [--token T]", runStatus},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	name := "serve"
	if len(args) > 0 {
		name, args = args[0], args[1:]
	}
	switch name {
	case "-h", "-help", "--help":
		usage(stdout)
		return 0
	case "help":
		if len(args) == 0 {
			usage(stdout)
			return 0
		}
		// help COMMAND is COMMAND --help.
		name, args = args[0], []string{"--help"}
	case "-v", "--version":
		name = "version"
	}
	cmd, ok := commands()[name]
	if !ok {
		fmt.Fprintf(stderr, "smpp-hlr-gateway: unknown command %q\n", name)
		usage(stderr)
		return 2
	}
	return cmd.run(ctx, args, env, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: smpp-hlr-gateway [command] [flags]\n\ncommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\n`smpp-hlr-gateway COMMAND -h` (or `help COMMAND`) describes a command.")
	fmt.Fprintln(w, configHelp)
}

func runVersion(_ context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) int {
	fs := newCmdFlags("version", "smpp-hlr-gateway version", "Prints the version.")
	if done, code := fs.parseNoArgs(args, stdout, stderr); done {
		return code
	}
	fmt.Fprintf(stdout, "smpp-hlr-gateway %s\n", version)
	return 0
}
