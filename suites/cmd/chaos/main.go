// Command chaos measures crash safety on the local lane (see package chaos): it kills and
// restarts the reference and the lane's CSI components while backups run, checks every round,
// and writes results.md and results.json into --artifacts. It exits 1 on a wrong outcome, a leak
// or a round it could not run.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/cmdline"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/chaos"
)

const usage = "chaos [--rounds N] [--seed S] [--artifacts DIR] [--lane-name chaos-...] [--prepare-timeout D] [--sut-only]"

// lanePrefix starts every lane name chaos takes: local.Up takes down a lane of the same name
// first, and a name of another command's (make e2e's e2e-...) would take down its running lane.
const lanePrefix = "chaos-"

// options are chaos's flags.
type options struct {
	rounds         int
	seed           int64
	artifacts      string
	laneName       string
	prepareTimeout time.Duration
	sutOnly        bool
}

// parseArgs reads chaos's command line; ok false means exit with code (its message written). A
// seed of 0 becomes one from the clock.
func parseArgs(args []string, stderr io.Writer) (o options, code int, ok bool) {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.IntVar(&o.rounds, "rounds", 30, "rounds of backups, each with its kills")
	fs.Int64Var(&o.seed, "seed", 0, "the kills' seed (0: from the clock; printed either way, for a replay)")
	fs.StringVar(&o.artifacts, "artifacts", filepath.Join(toolchain.RepoRoot(), "artifacts", "chaos"), "where the report and the logs go")
	fs.StringVar(&o.laneName, "lane-name", "chaos-local", "the local lane's name (must start with "+lanePrefix+")")
	fs.DurationVar(&o.prepareTimeout, "prepare-timeout", 10*time.Second, "the system's data-mover prepare timeout (each round waits it out once)")
	fs.BoolVar(&o.sutOnly, "sut-only", false, "kill the system under test only, not the lane's CSI components")
	if code, ok = cmdline.Parse(fs, usage, args, stderr); !ok {
		return o, code, ok
	}
	switch {
	case o.rounds < 1:
		fmt.Fprintf(stderr, "chaos: --rounds %d: want at least 1\nusage: %s\n", o.rounds, usage)
		return o, 2, false
	case !strings.HasPrefix(o.laneName, lanePrefix):
		fmt.Fprintf(stderr, "chaos: --lane-name %q: must start with %q (a lane of that name is taken down first)\nusage: %s\n", o.laneName, lanePrefix, usage)
		return o, 2, false
	case o.prepareTimeout < time.Second:
		fmt.Fprintf(stderr, "chaos: --prepare-timeout %v: want at least 1s\nusage: %s\n", o.prepareTimeout, usage)
		return o, 2, false
	}
	if o.seed == 0 {
		o.seed = time.Now().UnixNano()
	}
	return o, 0, true
}

func main() {
	o, code, ok := parseArgs(os.Args[1:], os.Stderr)
	if !ok {
		os.Exit(code)
	}
	// The seed first, before anything can fail: a run cut short can still be replayed.
	fmt.Fprintf(os.Stderr, "chaos: seed %d (replay: --seed %d --rounds %d)\n", o.seed, o.seed, o.rounds)
	klog.SetLogger(logr.Discard())
	ctrllog.SetLogger(logr.Discard())
	log := funcr.New(func(_, args string) { fmt.Fprintln(os.Stderr, "chaos:", args) }, funcr.Options{})
	p, err := profile.Find(toolchain.RepoRoot(), "emulator")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	if err := os.MkdirAll(o.artifacts, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := chaos.Run(ctx, chaos.Options{Rounds: o.rounds, Seed: o.seed, Artifacts: o.artifacts, LaneName: o.laneName,
		PrepareTimeout: o.prepareTimeout, SUTOnly: o.sutOnly, Profile: p, Log: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	if data, jerr := json.MarshalIndent(rep, "", "  "); jerr == nil {
		if werr := os.WriteFile(filepath.Join(o.artifacts, "results.json"), data, 0o644); werr != nil {
			fmt.Fprintln(os.Stderr, "chaos:", werr)
		}
	}
	if md, merr := os.Create(filepath.Join(o.artifacts, "results.md")); merr == nil {
		chaos.WriteMarkdown(md, rep)
		md.Close()
	}
	chaos.WriteMarkdown(os.Stdout, rep)
	fmt.Fprintf(os.Stderr, "chaos: seed %d; report %s\n", o.seed, filepath.Join(o.artifacts, "results.md"))
	if rep.Failed() {
		os.Exit(1)
	}
}
