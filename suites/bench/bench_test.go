package bench

import (
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
