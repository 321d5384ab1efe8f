package cmdline

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Parse parses args into fs, a command that takes flags only; usage is its one-line synopsis
// (without "usage: "). ok says whether the command goes on; when it does not, code is what it
// exits with. fs's errors, usage and flag list go to stderr.
func Parse(fs *flag.FlagSet, usage string, args []string, stderr io.Writer) (code int, ok bool) {
	fs.Init(fs.Name(), flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n", usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false // the flag package printed the error and the usage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\nusage: %s\n", fs.Name(), fs.Arg(0), usage)
		return 2, false
	}
	return 0, true
}
