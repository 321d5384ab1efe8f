package bench

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backuppvc-conformance/harness/drivers/emulator"
)

func TestPercentileNearestRank(t *testing.T) {
	var b Batch
	for i := 100; i >= 1; i-- { // unsorted on purpose
		b.Latencies = append(b.Latencies, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 95: 95 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond} {
		if got := b.Percentile(p); got != want {
			t.Errorf("p%.0f = %v, want %v", p, got, want)
		}
	}
	if got := (Batch{}).Percentile(50); got != 0 {
		t.Errorf("empty batch p50 = %v", got)
	}
}

// du is a DataUpload seen at each stage at the given seconds after the batch's start.
func du(name string, secs ...float64) DataUploadTimes {
	d := DataUploadTimes{Name: name}
	for s := range d.At {
		d.At[s] = -1
		if s < len(secs) {
			d.At[s] = time.Duration(secs[s] * float64(time.Second))
		}
	}
	return d
}

func TestSummarizeAndStages(t *testing.T) {
	b := Batch{Backups: 3, DataUploads: []DataUploadTimes{
		du("a", 0.5, 1, 1.5, 2, 2.5, 3),
		du("b", 2, 2.5, 4, 3.5, 6, 7), // bound seen before the snapshot's readiness: 0, not negative
		du("c", 1, 1.5),               // never prepared
	}}
	b.summarize(3)
	if b.NotPrepared != 1 || b.Wall != 7*time.Second || b.CreationSpread != 2*time.Second {
		t.Errorf("summarize: not prepared %d, wall %v, spread %v; want 1, 7s, 2s", b.NotPrepared, b.Wall, b.CreationSpread)
	}
	if want := []time.Duration{2 * time.Second, 4500 * time.Millisecond}; !slices.Equal(b.Latencies, want) {
		t.Errorf("latencies %v, want %v", b.Latencies, want)
	}
	if want := []time.Duration{2500 * time.Millisecond, 5 * time.Second}; !slices.Equal(b.EndToEnd, want) {
		t.Errorf("created→Prepared %v, want %v", b.EndToEnd, want)
	}
	st := b.StageDurations()
	if got := st[StageBound]; !slices.Equal(got, []time.Duration{500 * time.Millisecond, 0}) {
		t.Errorf("Bound stage %v, want [500ms 0s]", got)
	}
	if got := st[StageAccepted]; len(got) != 3 {
		t.Errorf("Accepted stage has %d DataUploads, want 3 (c was accepted)", len(got))
	}
}

func TestSystemUsage(t *testing.T) {
	b := Batch{System: "velero", Usage: map[string]Usage{
		"velero server": {CPUSeconds: 2, PeakRSSBytes: 100}, "velero node-agent": {CPUSeconds: 3, PeakRSSBytes: 50, Processes: 2},
		"versitygw": {CPUSeconds: 1}, "kube-apiserver": {CPUSeconds: 40}, "backuppvc-reference": {CPUSeconds: 9}}}
	if u := b.SystemUsage(); u.CPUSeconds != 6 || u.PeakRSSBytes != 150 {
		t.Errorf("velero's usage %+v, want 6 CPU-seconds and 150 bytes", u)
	}
	b.System = "reference"
	if u := b.SystemUsage(); u.CPUSeconds != 9 {
		t.Errorf("the reference's usage %+v, want 9 CPU-seconds", u)
	}
}

func TestWriteMarkdownAndSVG(t *testing.T) {
	scale := func(sys string, n int, lat time.Duration, req float64) Batch {
		b := Batch{Name: fmt.Sprintf("scale N=%d", n), System: sys, Backups: n,
			DataUploads: []DataUploadTimes{du("x", 0, 0.1, 0.2, 0.3, 0.4, 0.1+lat.Seconds())},
			Usage:       map[string]Usage{"velero server": {CPUSeconds: 4}, "backuppvc-reference": {CPUSeconds: 2}, "etcd": {CPUSeconds: 1}},
			Requests:    map[string]*Requests{"etcd": {Total: 1}}}
		if sys == "velero" { // Velero's three agents count together
			b.Requests["velero-server"], b.Requests["node-agent-server"], b.Requests["velero"] = &Requests{Total: int64(req*float64(n)) - 2}, &Requests{Total: 1}, &Requests{Total: 1}
		} else {
			b.Requests["backuppvc-reference"] = &Requests{Total: int64(req * float64(n))}
		}
		b.summarize(n)
		return b
	}
	batches := []Batch{
		scale("reference", 1, time.Second, 57), scale("reference", 10, 2*time.Second, 60),
		scale("velero", 1, 4*time.Second, 114), scale("velero", 10, 8*time.Second, 120),
		{Name: "bench-slow-rwo 10GiB", Backups: 1, SizeGiB: 10, Latencies: []time.Duration{20 * time.Second}},
		{Name: "bench-cap-src 10x1GiB", Backups: 10, PeakCapacityGiB: 30},
	}
	var md, svg strings.Builder
	WriteMarkdown(&md, batches, map[string]string{"etcd": "v3.6.8"})
	for _, want := range []string{"| reference | 1 | 0s | 1.1s | 1000 ms |", "| velero | 10 | 0s | 8.1s | 8000 ms | 8000 ms | 8000 ms | 8100 ms | 8100 ms | 120.0 |",
		"| 10 | 0.25 | 0.25 | 0.26 | 0.26 | 0.50 | 0.50 | n/a |", "| velero | 1 | 100 ms / 100 ms |",
		"| ReadWriteOnce (writable clone) | 10 GiB | 20000 ms |", "| 30.0 GiB |", "| etcd | v3.6.8 |", "by user agent: velero-server 1198, etcd 1, node-agent-server 1, velero 1."} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	WriteLatencySVG(&svg, batches)
	if strings.Count(svg.String(), "<polyline") != 8 || !strings.Contains(svg.String(), "N=10") || !strings.Contains(svg.String(), ">velero<") {
		t.Errorf("latency svg:\n%s", svg.String())
	}
	svg.Reset()
	WriteStagesSVG(&svg, batches)
	if strings.Count(svg.String(), "<rect x=") != 4*int(numStages-1)+int(numStages-1) || !strings.Contains(svg.String(), "velero N=10") {
		t.Errorf("stages svg:\n%s", svg.String())
	}
}

// Calibrate's workload runs and takes a measurable time.
func TestCalibrate(t *testing.T) {
	took, err := Calibrate()
	if err != nil || took <= 0 {
		t.Fatalf("Calibrate: %v, %v", took, err)
	}
}

func TestWriteVerdict(t *testing.T) {
	junit := t.TempDir() + "/junit.xml"
	if err := os.WriteFile(junit, []byte(`<testsuites><testsuite name="s" tests="4" time="40">
<testcase name="[SynchronizedBeforeSuite]" time="7.5" status="passed"><system-err>&gt; Enter [SynchronizedBeforeSuite] TOP-LEVEL
lane: "level"=0 "msg"="local lane ready" "name"="e2e" "took"="6.1s" "steps"="kwokctl 3s"
lane: "level"=0 "msg"="system under test ready" "sut"="reference" "took"="1.4s"
</system-err></testcase>
<testcase name="[SynchronizedBeforeSuite]" time="7.6" status="passed"></testcase>
<testcase name="[It] backupPVC fast" time="2" status="passed"></testcase>
<testcase name="[It] backupPVC slow | piped" time="16" status="failed"></testcase>
<testcase name="[SynchronizedAfterSuite]" time="3.9" status="passed"><system-err>&gt; Enter [SynchronizedAfterSuite] TOP-LEVEL - suite_test.go:127 @ 12/06/26 19:30:02.73
&lt; Exit [SynchronizedAfterSuite] TOP-LEVEL - suite_test.go:127 @ 12/06/26 19:30:02.73 (0s)
&gt; Enter [SynchronizedAfterSuite] TOP-LEVEL - suite_test.go:127 @ 12/06/26 19:30:05.532
lane: "level"=0 "msg"="local lane down" "name"="e2e"
&lt; Exit [SynchronizedAfterSuite] TOP-LEVEL - suite_test.go:127 @ 12/06/26 19:30:06.613 (1.081s)
</system-err></testcase>
</testsuite></testsuites>`), 0o600); err != nil {
		t.Fatal(err)
	}
	// A second run, slower, without the lane's and the system's logged times.
	junit2 := t.TempDir() + "/junit.xml"
	if err := os.WriteFile(junit2, []byte(`<testsuites><testsuite name="s" tests="1" time="50">
<testcase name="[SynchronizedBeforeSuite]" time="9" status="passed"></testcase>
<testcase name="[It] backupPVC only in the second" time="3" status="passed"></testcase>
</testsuite></testsuites>`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := WriteVerdict(&out, []VerdictRun{{JUnit: junit, Wall: 44 * time.Second}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 run)\n\n| part | run 1 | median |\n|---|---|---|\n| make e2e, wall | 44s | 44s |", "| lane bring-up | 6.1s | 6.1s |", "| system under test start | 1.4s | 1.4s |",
		"| specs, in parallel | 31.32s | 31.32s |", "| teardown: leftover checks, system stopped, lane down | 1.08s | 1.08s |", "| the rest: builds, processes, report | 4s | 4s |",
		"Each spec in run 1 (the median wall time):", "| backupPVC slow \\| piped | 16s | failed |\n| backupPVC fast | 2s | passed |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("verdict lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := WriteVerdict(&out, []VerdictRun{{junit2, 55 * time.Second, 900 * time.Millisecond}, {junit, 44 * time.Second, 700 * time.Millisecond}, {junit2, 52 * time.Second, 1200 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3 runs)\n\n| part | run 1 | run 2 | run 3 | median |\n|---|---|---|---|---|\n| the machine's speed just before: bench --calibrate, a fixed workload (lower: faster) | 900ms | 700ms | 1.2s | 900ms |\n| make e2e, wall | 55s | 44s | 52s | 52s |",
		"| lane bring-up and system under test start | 9s | 7.6s | 9s | 9s |", "| specs, in parallel | 41s | 31.32s | 41s | 41s |",
		"Each spec in run 3 (the median wall time):", "| backupPVC only in the second | 3s | passed |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("verdict of three runs lacks %q:\n%s", want, out.String())
		}
	}
	if err := WriteVerdict(&out, []VerdictRun{{JUnit: junit, Wall: time.Second}, {JUnit: t.TempDir() + "/none.xml", Wall: time.Second}}); err == nil {
		t.Error("a missing report is not an error")
	}
	if err := WriteVerdict(&out, nil); err == nil {
		t.Error("no run is not an error")
	}
}

// The backup-class capacity row read 0.0 GiB while the earlier batch's source volumes were still
// being deleted: only the volumes made during the batch count.
func TestBytesOfNewVolumesIgnoresVolumesThatGo(t *testing.T) {
	const gib = 1 << 30
	start := emulator.Usage{Volumes: []emulator.VolumeUsage{{ID: "old-source", UsedBytes: 30 * gib}, {ID: "source", UsedBytes: 3 * gib}}}
	during := emulator.Usage{Volumes: []emulator.VolumeUsage{{ID: "source", UsedBytes: 3 * gib}, {ID: "backup-1", UsedBytes: gib}, {ID: "backup-2", UsedBytes: gib}}}
	if got := bytesOfNewVolumes(during, volumeIDs(start)); got != 2*gib {
		t.Errorf("capacity of the batch's new volumes = %d, want 2 GiB (the old source's deletion does not count)", got)
	}
}
