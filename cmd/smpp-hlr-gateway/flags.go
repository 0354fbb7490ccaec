package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// cmdFlags is a command's flag set with its usage text. Every command
// parses its arguments through it, so -h/--help behave the same
// everywhere: the usage on stdout, exit 0, nothing else done; a bad flag
// or argument prints the error and the usage on stderr and exits 2.
type cmdFlags struct {
	*flag.FlagSet
	synopsis string // "smpp-hlr-gateway send [flags] MSISDN..."
	detail   string // what the command does, one paragraph
}

// newCmdFlags returns the flag set of command name.
func newCmdFlags(name, synopsis, detail string) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package prints the usage on errors and on -h to the same
	// writer; parse prints it itself, to the right one.
	fs.Usage = func() {}
	return &cmdFlags{FlagSet: fs, synopsis: synopsis, detail: detail}
}

// printUsage writes the synopsis, the description and the flags.
func (f *cmdFlags) printUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n", f.synopsis)
	if f.detail != "" {
		fmt.Fprintf(w, "\n%s\n", f.detail)
	}
	hasFlags := false
	f.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintln(w, "\nflags:")
		out := f.Output()
		f.SetOutput(w)
		f.PrintDefaults()
		f.SetOutput(out)
	}
}

// parse parses args (flags anywhere when interspersed is true). done
// reports that the command must end now with exit code code: after help
// (0) or a usage error (2).
func (f *cmdFlags) parse(args []string, interspersed bool, stdout, stderr io.Writer) (positional []string, done bool, code int) {
	f.SetOutput(stderr)
	var err error
	if interspersed {
		positional, err = parseInterspersed(f.FlagSet, args)
	} else {
		err = f.Parse(args)
		positional = f.Args()
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		f.printUsage(stdout)
		return nil, true, 0
	case err != nil:
		f.printUsage(stderr)
		return nil, true, 2
	}
	return positional, false, 0
}

// usageError prints msg and the usage on stderr and returns exit code 2.
func (f *cmdFlags) usageError(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "%s: %s\n", f.Name(), fmt.Sprintf(format, args...))
	f.printUsage(stderr)
	return 2
}

// parseNoArgs parses args of a command that takes flags only.
func (f *cmdFlags) parseNoArgs(args []string, stdout, stderr io.Writer) (done bool, code int) {
	rest, done, code := f.parse(args, false, stdout, stderr)
	if done {
		return true, code
	}
	if len(rest) > 0 {
		return true, f.usageError(stderr, "unexpected argument %q", rest[0])
	}
	return false, 0
}

// parseInterspersed parses flags that may appear before, between or after
// positional arguments; "--" ends flag parsing.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
