package bench

import (
	"os"
	"strings"
	"testing"
	"time"
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

func TestWriteMarkdownAndSVG(t *testing.T) {
	batches := []Batch{
		{Name: "scale N=1", Backups: 1, Latencies: []time.Duration{time.Second}, RequestsPerDU: 57},
		{Name: "scale N=10", Backups: 10, Latencies: []time.Duration{time.Second, 2 * time.Second}},
		{Name: "bench-slow-rwo 10GiB", Backups: 1, SizeGiB: 10, Latencies: []time.Duration{20 * time.Second}},
		{Name: "bench-cap-src 10x1GiB", Backups: 10, PeakCapacityGiB: 30},
	}
	var md, svg strings.Builder
	WriteMarkdown(&md, batches, map[string]string{"etcd": "v3.6.8"})
	for _, want := range []string{"| 1 | 0s | 1000 ms |", "| ReadWriteOnce (writable clone) | 10 GiB | 20000 ms |", "| 30.0 GiB |", "| etcd | v3.6.8 |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	WriteSVG(&svg, batches)
	if !strings.Contains(svg.String(), "<polyline") || !strings.Contains(svg.String(), "N=10") {
		t.Errorf("svg:\n%s", svg.String())
	}
}

func TestWriteVerdict(t *testing.T) {
	junit := t.TempDir() + "/junit.xml"
	if err := os.WriteFile(junit, []byte(`<testsuites><testsuite name="s" tests="4" time="40">
<testcase name="[SynchronizedBeforeSuite]" time="7.5" status="passed"></testcase>
<testcase name="[SynchronizedBeforeSuite]" time="7.6" status="passed"></testcase>
<testcase name="[It] backupPVC fast" time="2" status="passed"></testcase>
<testcase name="[It] backupPVC slow | piped" time="16" status="failed"></testcase>
</testsuite></testsuites>`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := WriteVerdict(&out, junit, 44*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| make e2e, wall | 44s |", "| lane bring-up and system under test start | 7.6s |",
		"| specs, in parallel (Ginkgo total minus bring-up) | 32.4s |", "| teardown, report and builds (the rest) | 4s |",
		"| backupPVC slow \\| piped | 16s | failed |\n| backupPVC fast | 2s | passed |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("verdict lacks %q:\n%s", want, out.String())
		}
	}
	if err := WriteVerdict(&out, t.TempDir()+"/none.xml", 0); err == nil {
		t.Error("a missing report is not an error")
	}
}
