// Command bench measures the systems under test on the local lane (see package bench) and writes
// results.md, results.json, latency.svg and stages.svg into --artifacts.
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
	"slices"
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
	"github.com/backuppvc-conformance/harness/suites/sut"
)

const usage = "bench [--systems reference,velero] [--scale 1,10,50,200] [--no-scenarios] [--artifacts DIR] | bench --report [--artifacts DIR] | bench --verdict-junit FILE[,FILE...] --verdict-wall D[,D...] [--verdict-calibration D[,D...]] | bench --calibrate"

// options are bench's flags.
type options struct {
	systems, scale, artifacts string
	noScenarios, report       bool
	calibrate                 bool
	verdictRuns               []bench.VerdictRun
}

// parseArgs reads bench's command line; ok false means exit with code (its message written).
func parseArgs(args []string, stderr io.Writer) (o options, code int, ok bool) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var verdictJUnits, verdictWalls, verdictCalibrations string
	fs.StringVar(&o.systems, "systems", "reference,velero", "the systems under test the scale steps measure, in turn ("+strings.Join(sut.Names, ", ")+")")
	fs.StringVar(&o.scale, "scale", "1,10,50,200", "concurrent backups per scale step")
	fs.BoolVar(&o.noScenarios, "no-scenarios", false, "leave out the page's storage scenarios")
	fs.BoolVar(&o.report, "report", false, "instead: render the report again from the raw data a run left in --artifacts (results.json, versions.json)")
	fs.StringVar(&o.artifacts, "artifacts", filepath.Join(toolchain.RepoRoot(), "artifacts", "bench"), "where results go")
	fs.StringVar(&verdictJUnits, "verdict-junit", "", "instead: report the time to verdict of the conformance runs with these JUnit reports (comma-separated)")
	fs.StringVar(&verdictWalls, "verdict-wall", "", "with --verdict-junit: each run's wall time, in the same order (comma-separated)")
	fs.StringVar(&verdictCalibrations, "verdict-calibration", "", "with --verdict-junit: what bench --calibrate printed just before each run, in the same order (comma-separated)")
	fs.BoolVar(&o.calibrate, "calibrate", false, "instead: print how long a fixed workload takes on this machine now (its speed drifts)")
	if code, ok = cmdline.Parse(fs, usage, args, stderr); !ok {
		return o, code, ok
	}
	if verdictJUnits != "" || verdictWalls != "" || verdictCalibrations != "" {
		junits, walls := strings.Split(verdictJUnits, ","), strings.Split(verdictWalls, ",")
		var calibrations []string
		if verdictCalibrations != "" {
			calibrations = strings.Split(verdictCalibrations, ",")
		}
		if len(junits) != len(walls) || calibrations != nil && len(calibrations) != len(junits) {
			fmt.Fprintf(stderr, "bench: --verdict-junit names %d reports, --verdict-wall gives %d wall times and --verdict-calibration %d calibrations\nusage: %s\n",
				len(junits), len(walls), len(calibrations), usage)
			return o, 2, false
		}
		for i, j := range junits {
			wall, err := time.ParseDuration(walls[i])
			if j == "" || err != nil || wall <= 0 {
				fmt.Fprintf(stderr, "bench: --verdict-junit %q with --verdict-wall %q: want a report and a positive duration\nusage: %s\n", j, walls[i], usage)
				return o, 2, false
			}
			run := bench.VerdictRun{JUnit: j, Wall: wall}
			if calibrations != nil {
				if run.Calibration, err = time.ParseDuration(calibrations[i]); err != nil || run.Calibration <= 0 {
					fmt.Fprintf(stderr, "bench: --verdict-calibration %q: want a positive duration\nusage: %s\n", calibrations[i], usage)
					return o, 2, false
				}
			}
			o.verdictRuns = append(o.verdictRuns, run)
		}
	}
	for _, s := range strings.Split(o.systems, ",") {
		if !slices.Contains(sut.Names, s) {
			fmt.Fprintf(stderr, "bench: --systems: unknown system under test %q (known: %s)\nusage: %s\n", s, strings.Join(sut.Names, ", "), usage)
			return o, 2, false
		}
	}
	return o, 0, true
}

func main() {
	o, code, ok := parseArgs(os.Args[1:], os.Stderr)
	if !ok {
		os.Exit(code)
	}
	if o.calibrate {
		took, err := bench.Calibrate()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(took.Round(time.Millisecond))
		return
	}
	if len(o.verdictRuns) > 0 {
		if err := bench.WriteVerdict(os.Stdout, o.verdictRuns); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if o.report {
		batches, versions, err := readResults(o.artifacts)
		if err == nil {
			err = writeReport(o.artifacts, batches, versions)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
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
	batches, versions, err := bench.Run(ctx, bench.Options{Systems: strings.Split(o.systems, ","), Scale: ns, NoScenarios: o.noScenarios, Artifacts: o.artifacts, Profile: p, Log: log})
	for name, v := range map[string]any{"results.json": batches, "versions.json": versions} {
		if data, jerr := json.MarshalIndent(v, "", "  "); jerr == nil {
			_ = os.WriteFile(filepath.Join(o.artifacts, name), data, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if err := writeReport(o.artifacts, batches, versions); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// writeReport renders results.md (also on standard output), latency.svg and stages.svg into dir.
func writeReport(dir string, batches []bench.Batch, versions map[string]string) error {
	for name, write := range map[string]func(io.Writer){
		"results.md":  func(w io.Writer) { bench.WriteMarkdown(w, batches, versions) },
		"latency.svg": func(w io.Writer) { bench.WriteLatencySVG(w, batches) },
		"stages.svg":  func(w io.Writer) { bench.WriteStagesSVG(w, batches) },
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		write(f)
		if err := f.Close(); err != nil {
			return err
		}
	}
	bench.WriteMarkdown(os.Stdout, batches, versions)
	return nil
}

// readResults reads the raw data a run left in dir.
func readResults(dir string) (batches []bench.Batch, versions map[string]string, err error) {
	for name, v := range map[string]any{"results.json": &batches, "versions.json": &versions} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, nil, err
		}
		if err := json.Unmarshal(data, v); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", filepath.Join(dir, name), err)
		}
	}
	return batches, versions, nil
}
