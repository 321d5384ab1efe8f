// Command negative runs the negative controls (suites/negative): the reference with one planted
// defect at a time against the conformance spec that must fail it. It writes the table to
// <artifacts>/mutants.md and exits non-zero when any mutant is not caught.
//
//	go run ./suites/cmd/negative [--artifacts artifacts/negative] [--parallel 3] [--mutants a,b]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr/funcr"

	"github.com/backuppvc-conformance/harness/internal/cmdline"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/negative"
)

const usage = "negative [--artifacts DIR] [--parallel 3] [--mutants a,b]"

// options are negative's flags.
type options struct {
	artifacts, only string
	parallel        int
}

// parseArgs reads negative's command line; ok false means exit with code (its message written).
func parseArgs(args []string, stderr io.Writer) (o options, code int, ok bool) {
	fs := flag.NewFlagSet("negative", flag.ContinueOnError)
	fs.StringVar(&o.artifacts, "artifacts", filepath.Join(toolchain.RepoRoot(), "artifacts", "negative"), "reports: mutants.md and one folder per mutant")
	fs.IntVar(&o.parallel, "parallel", 3, "mutants run at once against the one lane (most of a run is waiting)")
	fs.StringVar(&o.only, "mutants", "", "comma-separated mutant names (default: all)")
	code, ok = cmdline.Parse(fs, usage, args, stderr)
	return o, code, ok
}

func main() {
	o, code, ok := parseArgs(os.Args[1:], os.Stderr)
	if !ok {
		os.Exit(code)
	}
	if err := run(o.artifacts, o.parallel, o.only); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(artifacts string, parallel int, only string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	artifacts, err := filepath.Abs(artifacts)
	if err != nil {
		return fmt.Errorf("negative: %w", err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		return fmt.Errorf("negative: %w", err)
	}
	o := negative.Options{Artifacts: artifacts, Parallel: parallel,
		Log: funcr.New(func(_, args string) { fmt.Println("negative:", args) }, funcr.Options{})}
	if only != "" {
		o.Mutants = []negative.Mutant{}
		for _, name := range strings.Split(only, ",") {
			m, err := negative.Find(strings.TrimSpace(name))
			if err != nil {
				return err
			}
			o.Mutants = append(o.Mutants, m)
		}
	}
	start := time.Now()
	outs, runErr := negative.Run(ctx, o)
	wall := time.Since(start)
	table := filepath.Join(artifacts, "mutants.md")
	f, err := os.Create(table)
	if err != nil {
		return fmt.Errorf("negative: %w", err)
	}
	if err := negative.WriteTable(f, outs, wall); err != nil {
		f.Close()
		return fmt.Errorf("negative: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("negative: %w", err)
	}
	caught, planted := negative.Score(outs)
	fmt.Printf("negative controls: %d/%d mutants caught in %v; table: %s\n", caught, planted, wall.Round(time.Second), table)
	if runErr != nil {
		return runErr
	}
	if planted < len(o.Mutants) || caught < planted {
		return fmt.Errorf("negative: %d of %d mutants not caught: the suites pass a wrong system, or could not judge it (see %s)", len(o.Mutants)-caught, len(o.Mutants), table)
	}
	return nil
}
