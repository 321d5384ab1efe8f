package bench

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Machine describes where the numbers were measured.
func Machine() string {
	return fmt.Sprintf("%d cores, %s/%s, one run per row", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

// WriteMarkdown renders the batches as the tables make bench prints.
func WriteMarkdown(w io.Writer, batches []Batch, versions map[string]string) {
	fmt.Fprintf(w, "# make bench\n\nMachine: %s. Local lane (real control plane and CSI sidecars, kwok nodes), storage emulator, reference implementation.\n\n", Machine())
	fmt.Fprintln(w, "## Exposer scale: N backups of one 1 GiB PVC each, started at once (read-only backupPVC)")
	fmt.Fprintln(w, "\n| N | wall | Accepted→Prepared p50 | p95 | p99 | API requests per DataUpload | reference peak RSS | failed |\n|---|---|---|---|---|---|---|---|")
	for _, b := range batches {
		if strings.HasPrefix(b.Name, "scale") {
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %.1f | %.0f MiB | %d |\n", b.Backups, b.Wall.Round(10*time.Millisecond), ms(b.Percentile(50)),
				ms(b.Percentile(95)), ms(b.Percentile(99)), b.RequestsPerDU, float64(b.PeakRSSBytes)/(1<<20), b.Failed)
		}
	}
	fmt.Fprintln(w, "\n## The page's first scenario: a class whose writable volumes from a snapshot are full clones (cloneCostPerGiB 2s)")
	fmt.Fprintln(w, "\n| backupPVC | source size | Accepted→Prepared |\n|---|---|---|")
	for _, b := range batches {
		if strings.HasPrefix(b.Name, "bench-slow") {
			mode := "ReadWriteOnce (writable clone)"
			if strings.Contains(b.Name, "rox") {
				mode = "ReadOnlyMany (readOnly: true)"
			}
			fmt.Fprintf(w, "| %s | %d GiB | %s |\n", mode, b.SizeGiB, ms(b.Percentile(50)))
		}
	}
	fmt.Fprintln(w, "\n## The page's second scenario: replicas kept for an intermediate volume (10 backups of 1 GiB at once)")
	fmt.Fprintln(w, "\n| backupPVC class | peak capacity used by backupPVCs |\n|---|---|")
	for _, b := range batches {
		switch {
		case strings.HasPrefix(b.Name, "bench-cap-src"):
			fmt.Fprintf(w, "| the source class (replicas 3), no storageClass entry | %.1f GiB |\n", b.PeakCapacityGiB)
		case strings.HasPrefix(b.Name, "bench-cap-bkp"):
			fmt.Fprintf(w, "| a backup class with replicas 1 (storageClass entry) | %.1f GiB |\n", b.PeakCapacityGiB)
		}
	}
	keys := make([]string, 0, len(versions))
	for k := range versions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintln(w, "\n## Components\n\n| component | version |\n|---|---|")
	for _, k := range keys {
		fmt.Fprintf(w, "| %s | %s |\n", k, versions[k])
	}
}

// WriteSVG plots the scale batches' latency percentiles against N.
func WriteSVG(w io.Writer, batches []Batch) {
	var scale []Batch
	for _, b := range batches {
		if strings.HasPrefix(b.Name, "scale") {
			scale = append(scale, b)
		}
	}
	const W, H, pad = 640, 360, 60
	var maxY time.Duration
	for _, b := range scale {
		maxY = max(maxY, b.Percentile(99))
	}
	if len(scale) == 0 || maxY == 0 {
		return
	}
	x := func(i int) float64 {
		if len(scale) == 1 {
			return pad
		}
		return pad + float64(i)*float64(W-2*pad)/float64(len(scale)-1)
	}
	y := func(d time.Duration) float64 { return H - pad - float64(d)/float64(maxY)*float64(H-2*pad) }
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/><text x="%d" y="20">Accepted→Prepared latency vs concurrent backups (%s)</text>`+"\n", pad, Machine())
	fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/><line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", pad, H-pad, W-pad, H-pad, pad, pad, pad, H-pad)
	fmt.Fprintf(w, `<text x="5" y="%d">%s</text><text x="5" y="%d">0</text>`+"\n", pad, ms(maxY), H-pad)
	for i, b := range scale {
		fmt.Fprintf(w, `<text x="%.0f" y="%d" text-anchor="middle">N=%d</text>`+"\n", x(i), H-pad+20, b.Backups)
	}
	for _, s := range []struct {
		p     float64
		color string
	}{{50, "steelblue"}, {95, "darkorange"}, {99, "firebrick"}} {
		var pts []string
		for i, b := range scale {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(b.Percentile(s.p))))
		}
		fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.color, strings.Join(pts, " "))
		fmt.Fprintf(w, `<text x="%d" y="%.0f" fill="%s">p%.0f</text>`+"\n", W-pad+5, y(scale[len(scale)-1].Percentile(s.p)), s.color, s.p)
	}
	fmt.Fprintln(w, "</svg>")
}
