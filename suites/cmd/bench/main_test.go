package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backuppvc-conformance/harness/internal/cmdline/cmdlinetest"
	"github.com/backuppvc-conformance/harness/suites/bench"
)

func TestParseArgs(t *testing.T) {
	cmdlinetest.Run(t, parseArgs, []cmdlinetest.Case[options]{
		{Name: "scale", Args: []string{"--scale", "1,2", "--artifacts", "/a"}, OK: true,
			Want: func(o options) string {
				if o.scale != "1,2" || o.artifacts != "/a" {
					return "scale and artifacts not read"
				}
				return ""
			}},
		{Name: "systems", Args: []string{"--systems", "velero", "--no-scenarios"}, OK: true,
			Want: func(o options) string {
				if o.systems != "velero" || !o.noScenarios {
					return "systems and no-scenarios not read"
				}
				return ""
			}},
		{Name: "report", Args: []string{"--report", "--artifacts", "/a"}, OK: true,
			Want: func(o options) string {
				if !o.report || o.artifacts != "/a" {
					return "report not read"
				}
				return ""
			}},
		{Name: "an unknown system", Args: []string{"--systems", "reference,velro"}, Code: 2,
			Stderr: "bench: --systems: unknown system under test \"velro\" (known: reference, velero)\nusage: bench"},
		{Name: "verdict", Args: []string{"--verdict-junit", "1/j.xml,2/j.xml", "--verdict-wall", "3s,29500ms"}, OK: true,
			Want: func(o options) string {
				if want := []bench.VerdictRun{{JUnit: "1/j.xml", Wall: 3 * time.Second}, {JUnit: "2/j.xml", Wall: 29500 * time.Millisecond}}; !slices.Equal(o.verdictRuns, want) {
					return fmt.Sprintf("verdict runs %v, want %v", o.verdictRuns, want)
				}
				return ""
			}},
		{Name: "fewer wall times than reports", Args: []string{"--verdict-junit", "1/j.xml,2/j.xml", "--verdict-wall", "3s"}, Code: 2,
			Stderr: "bench: --verdict-junit names 2 reports, --verdict-wall gives 1 wall times and --verdict-calibration 0 calibrations\nusage: bench"},
		{Name: "verdict with calibrations", Args: []string{"--verdict-junit", "1/j.xml,2/j.xml", "--verdict-wall", "3s,4s", "--verdict-calibration", "700ms,1.2s"}, OK: true,
			Want: func(o options) string {
				if o.verdictRuns[0].Calibration != 700*time.Millisecond || o.verdictRuns[1].Calibration != 1200*time.Millisecond {
					return fmt.Sprintf("calibrations not read: %v", o.verdictRuns)
				}
				return ""
			}},
		{Name: "fewer calibrations than reports", Args: []string{"--verdict-junit", "1/j.xml,2/j.xml", "--verdict-wall", "3s,4s", "--verdict-calibration", "700ms"}, Code: 2,
			Stderr: "bench: --verdict-junit names 2 reports, --verdict-wall gives 2 wall times and --verdict-calibration 1 calibrations"},
		{Name: "a calibration that is no duration", Args: []string{"--verdict-junit", "j.xml", "--verdict-wall", "3s", "--verdict-calibration", "0.7"}, Code: 2,
			Stderr: "bench: --verdict-calibration \"0.7\": want a positive duration"},
		{Name: "calibrate", Args: []string{"--calibrate"}, OK: true,
			Want: func(o options) string {
				if !o.calibrate {
					return "calibrate not read"
				}
				return ""
			}},
		{Name: "a report without its wall time", Args: []string{"--verdict-junit", "j.xml"}, Code: 2,
			Stderr: "bench: --verdict-junit \"j.xml\" with --verdict-wall \"\": want a report and a positive duration"},
		{Name: "a wall time that is no duration", Args: []string{"--verdict-junit", "j.xml", "--verdict-wall", "30"}, Code: 2,
			Stderr: "bench: --verdict-junit \"j.xml\" with --verdict-wall \"30\": want a report"},
		// bench junit.xml would have run the whole benchmark instead of reporting on the file.
		{Name: "a report as an argument", Args: []string{"junit.xml"}, Code: 2,
			Stderr: "bench: unexpected argument \"junit.xml\"\nusage: bench [--systems"},
		{Name: "an unknown flag", Args: []string{"--scales", "1"}, Code: 2, Stderr: "flag provided but not defined: -scales\nusage: bench"},
		{Name: "help", Args: []string{"-h"}, Stderr: "usage: bench"},
	})
}

// A run's raw data renders again into the same report (bench --report).
func TestReportFromRawData(t *testing.T) {
	dir := t.TempDir()
	batches := []bench.Batch{{Name: "scale N=1", System: "reference", Backups: 1, Latencies: []time.Duration{time.Second}, EndToEnd: []time.Duration{2 * time.Second},
		Requests: map[string]*bench.Requests{"backuppvc-reference": {Total: 40}}}}
	for name, v := range map[string]any{"results.json": batches, "versions.json": map[string]string{"etcd": "v3.6.8"}} {
		data, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	read, versions, err := readResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeReport(dir, read, versions); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "results.md"))
	for _, want := range []string{"| reference | 1 | 0s | 0s | 1000 ms |", "| 40.0 |", "| etcd | v3.6.8 |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("results.md lacks %q:\n%s", want, md)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "stages.svg")); err != nil {
		t.Error(err)
	}
	if _, _, err := readResults(t.TempDir()); err == nil {
		t.Error("no raw data is not an error")
	}
}
