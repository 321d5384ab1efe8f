// Command bench measures the reference on the local lane (see package bench) and writes
// results.md, results.json and latency.svg into --artifacts.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/bench"
)

func main() {
	scale := flag.String("scale", "1,10,50,200", "concurrent backups per scale step")
	artifacts := flag.String("artifacts", filepath.Join(toolchain.RepoRoot(), "artifacts", "bench"), "where results go")
	verdictJUnit := flag.String("verdict-junit", "", "instead: report the time to verdict of the conformance run with this JUnit report")
	verdictWall := flag.Duration("verdict-wall", 0, "with --verdict-junit: the run's wall time")
	flag.Parse()
	if *verdictJUnit != "" {
		if err := bench.WriteVerdict(os.Stdout, *verdictJUnit, *verdictWall); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	klog.SetLogger(logr.Discard())
	ctrllog.SetLogger(logr.Discard())
	log := funcr.New(func(_, args string) { fmt.Fprintln(os.Stderr, "bench:", args) }, funcr.Options{})
	var ns []int
	for _, s := range strings.Split(*scale, ",") {
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
	if err := os.MkdirAll(*artifacts, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	batches, versions, err := bench.Run(ctx, bench.Options{Scale: ns, Artifacts: *artifacts, Profile: p, Log: log})
	if data, jerr := json.MarshalIndent(batches, "", "  "); jerr == nil {
		_ = os.WriteFile(filepath.Join(*artifacts, "results.json"), data, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	md, err := os.Create(filepath.Join(*artifacts, "results.md"))
	if err == nil {
		bench.WriteMarkdown(md, batches, versions)
		md.Close()
	}
	if svg, err := os.Create(filepath.Join(*artifacts, "latency.svg")); err == nil {
		bench.WriteSVG(svg, batches)
		svg.Close()
	}
	bench.WriteMarkdown(os.Stdout, batches, versions)
}
