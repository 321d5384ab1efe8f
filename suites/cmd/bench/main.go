// Command bench measures the reference on the local lane (see package bench) and writes
// results.md, results.json and latency.svg into --artifacts.
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
	"strconv"
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
	"github.com/backuppvc-conformance/harness/suites/bench"
)

const usage = "bench [--scale 1,10,50,200] [--artifacts DIR] | bench --verdict-junit FILE [--verdict-wall D]"

// options are bench's flags.
type options struct {
	scale, artifacts, verdictJUnit string
	verdictWall                    time.Duration
}

// parseArgs reads bench's command line; ok false means exit with code (its message written).
func parseArgs(args []string, stderr io.Writer) (o options, code int, ok bool) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&o.scale, "scale", "1,10,50,200", "concurrent backups per scale step")
	fs.StringVar(&o.artifacts, "artifacts", filepath.Join(toolchain.RepoRoot(), "artifacts", "bench"), "where results go")
	fs.StringVar(&o.verdictJUnit, "verdict-junit", "", "instead: report the time to verdict of the conformance run with this JUnit report")
	fs.DurationVar(&o.verdictWall, "verdict-wall", 0, "with --verdict-junit: the run's wall time")
	code, ok = cmdline.Parse(fs, usage, args, stderr)
	return o, code, ok
}

func main() {
	o, code, ok := parseArgs(os.Args[1:], os.Stderr)
	if !ok {
		os.Exit(code)
	}
	if o.verdictJUnit != "" {
		if err := bench.WriteVerdict(os.Stdout, o.verdictJUnit, o.verdictWall); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	klog.SetLogger(logr.Discard())
	ctrllog.SetLogger(logr.Discard())
	log := funcr.New(func(_, args string) { fmt.Fprintln(os.Stderr, "bench:", args) }, funcr.Options{})
	var ns []int
	for _, s := range strings.Split(o.scale, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: --scale: %q is not a positive number\n", s)
			os.Exit(2)
		}
		ns = append(ns, n)
	}
	p, err := profile.Find(toolchain.RepoRoot(), "emulator")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.MkdirAll(o.artifacts, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	batches, versions, err := bench.Run(ctx, bench.Options{Scale: ns, Artifacts: o.artifacts, Profile: p, Log: log})
	if data, jerr := json.MarshalIndent(batches, "", "  "); jerr == nil {
		_ = os.WriteFile(filepath.Join(o.artifacts, "results.json"), data, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	md, err := os.Create(filepath.Join(o.artifacts, "results.md"))
	if err == nil {
		bench.WriteMarkdown(md, batches, versions)
		md.Close()
	}
	if svg, err := os.Create(filepath.Join(o.artifacts, "latency.svg")); err == nil {
		bench.WriteSVG(svg, batches)
		svg.Close()
	}
	bench.WriteMarkdown(os.Stdout, batches, versions)
}
