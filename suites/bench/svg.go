package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

var systemColors = []string{"steelblue", "firebrick", "seagreen", "darkorange"}

// WriteLatencySVG plots each system's Accepted→Prepared (solid) and created→Prepared (dashed)
// p50 (thin) and p99 (thick) against N.
func WriteLatencySVG(w io.Writer, batches []Batch) {
	systems, by := scaleBatches(batches)
	var ns []int
	var maxY time.Duration
	for _, sys := range systems {
		for _, b := range by[sys] {
			if !slices.Contains(ns, b.Backups) {
				ns = append(ns, b.Backups)
			}
			maxY = max(maxY, b.Percentile(99), Percentile(b.EndToEnd, 99))
		}
	}
	slices.Sort(ns)
	if len(ns) == 0 || maxY == 0 {
		return
	}
	const W, H, pad = 680, 380, 70
	x := func(n int) float64 {
		if len(ns) == 1 {
			return pad
		}
		return pad + float64(slices.Index(ns, n))*float64(W-2*pad)/float64(len(ns)-1)
	}
	// A log scale: Velero's created→Prepared at N=200 is a hundred times the reference's at N=1.
	lo, hi := math.Log10(float64(100*time.Millisecond)), math.Log10(float64(maxY))
	y := func(d time.Duration) float64 {
		v := math.Log10(float64(max(d, 100*time.Millisecond)))
		return H - pad - (v-lo)/max(hi-lo, 1e-9)*float64(H-2*pad)
	}
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/><text x="%d" y="20" font-size="11">DataUpload latency by concurrent backups (log scale): Accepted→Prepared solid, created→Prepared dashed, p50 thin, p99 thick (%s, one run per point)</text>`+"\n", 10, Machine())
	fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/><line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", pad, H-pad, W-pad, H-pad, pad, pad, pad, H-pad)
	for d := 100 * time.Millisecond; d <= maxY; d *= 10 {
		fmt.Fprintf(w, `<text x="5" y="%.0f">%v</text><line x1="%d" y1="%.0f" x2="%d" y2="%.0f" stroke="#ddd"/>`+"\n", y(d)+4, d, pad, y(d), W-pad, y(d))
	}
	for _, n := range ns {
		fmt.Fprintf(w, `<text x="%.0f" y="%d" text-anchor="middle">N=%d</text>`+"\n", x(n), H-pad+20, n)
	}
	for i, sys := range systems {
		color := systemColors[i%len(systemColors)]
		for _, line := range []struct {
			p      float64
			width  int
			dash   string
			series func(Batch) []time.Duration
		}{
			{50, 1, "", func(b Batch) []time.Duration { return b.Latencies }},
			{99, 3, "", func(b Batch) []time.Duration { return b.Latencies }},
			{50, 1, ` stroke-dasharray="6,4"`, func(b Batch) []time.Duration { return b.EndToEnd }},
			{99, 3, ` stroke-dasharray="6,4"`, func(b Batch) []time.Duration { return b.EndToEnd }},
		} {
			var pts []string
			for _, b := range by[sys] {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(b.Backups), y(Percentile(line.series(b), line.p))))
			}
			fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="%d"%s points="%s"/>`+"\n", color, line.width, line.dash, strings.Join(pts, " "))
		}
		fmt.Fprintf(w, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", pad+10, pad+16*i, color, sys)
	}
	fmt.Fprintln(w, "</svg>")
}

var stageColors = [numStages]string{"", "#8da0cb", "#66c2a5", "#fc8d62", "#e78ac3", "#a6d854"}

// WriteStagesSVG draws, for each system and N, a bar of its stages' median times stacked.
func WriteStagesSVG(w io.Writer, batches []Batch) {
	systems, by := scaleBatches(batches)
	type bar struct {
		label string
		d     [numStages]time.Duration
		total time.Duration
	}
	var bars []bar
	var maxT time.Duration
	for _, sys := range systems {
		for _, b := range by[sys] {
			br := bar{label: fmt.Sprintf("%s N=%d", sys, b.Backups)}
			st := b.StageDurations()
			for s := StageAccepted; s < numStages; s++ {
				br.d[s] = Percentile(st[s], 50)
				br.total += br.d[s]
			}
			maxT = max(maxT, br.total)
			bars = append(bars, br)
		}
	}
	if len(bars) == 0 || maxT == 0 {
		return
	}
	const W, left, right, row = 760, 140, 90, 26
	H := 70 + row*len(bars) + 40
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/><text x="10" y="20">Median time of each stage from the one before, stacked (%s, one run per bar)</text>`+"\n", Machine())
	lx := 10
	for s := StageAccepted; s < numStages; s++ {
		fmt.Fprintf(w, `<rect x="%d" y="32" width="12" height="12" fill="%s"/><text x="%d" y="42">→ %s</text>`+"\n", lx, stageColors[s], lx+16, StageNames[s])
		lx += 24 + 7*len(StageNames[s]) + 10
	}
	scale := float64(W-left-right) / float64(maxT)
	for i, br := range bars {
		yy := 60 + i*row
		fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-6, yy+15, br.label)
		xx := float64(left)
		for s := StageAccepted; s < numStages; s++ {
			wd := float64(br.d[s]) * scale
			fmt.Fprintf(w, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s %s</title></rect>`+"\n", xx, yy, wd, row-6, stageColors[s], StageNames[s], ms(br.d[s]))
			xx += wd
		}
		fmt.Fprintf(w, `<text x="%.1f" y="%d">%s</text>`+"\n", xx+4, yy+15, ms(br.total))
	}
	fmt.Fprintln(w, "</svg>")
}
