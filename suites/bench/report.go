package bench

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// Machine describes where the numbers were measured.
func Machine() string {
	return fmt.Sprintf("%d cores, %s/%s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// scaleBatches are the scale steps, by system in the order measured.
func scaleBatches(batches []Batch) (systems []string, by map[string][]Batch) {
	by = map[string][]Batch{}
	for _, b := range batches {
		if !strings.HasPrefix(b.Name, "scale") {
			continue
		}
		if _, ok := by[b.System]; !ok {
			systems = append(systems, b.System)
		}
		by[b.System] = append(by[b.System], b)
	}
	return systems, by
}

// WriteMarkdown renders the batches as the tables make bench prints.
func WriteMarkdown(w io.Writer, batches []Batch, versions map[string]string) {
	systems, by := scaleBatches(batches)
	fmt.Fprintf(w, "# make bench\n\nMachine: %s; one run per row. Local lane (real control plane and CSI sidecars, kwok nodes), storage emulator; systems: %s, each with its defaults, a fresh instance per row.\n\n",
		Machine(), strings.Join(systems, ", "))
	fmt.Fprintln(w, "## Exposer scale: N Backups of one 1 GiB PVC each, created at once (read-only backupPVC)")
	fmt.Fprintln(w, "\nDataUploads created within: from the first Backup's creation to the last DataUpload's. Last Prepared: to the last DataUpload's Prepared. Requests: the system's own, per DataUpload, from the API server's audit log. CPU and peak RSS: the system's processes (Velero: server, node-agents, plugins, versitygw).")
	fmt.Fprintln(w, "\n| system | N | DataUploads created within | last Prepared | Accepted→Prepared p50 | p95 | p99 | created→Prepared p50 | p99 | API requests per DataUpload until Prepared | CPU | peak RSS | not prepared |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, sys := range systems {
		for _, b := range by[sys] {
			u := b.SystemUsage()
			fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %.1f | %.1f s | %s | %d |\n", sys, b.Backups, b.CreationSpread.Round(10*time.Millisecond),
				b.Wall.Round(10*time.Millisecond), ms(b.Percentile(50)), ms(b.Percentile(95)), ms(b.Percentile(99)),
				ms(Percentile(b.EndToEnd, 50)), ms(Percentile(b.EndToEnd, 99)), b.RequestsPerDU(), u.CPUSeconds, mib(u.PeakRSSBytes), b.NotPrepared)
		}
	}
	writeRatios(w, systems, by)
	writeStages(w, systems, by)
	writeComponents(w, systems, by)
	writeScenarios(w, batches)
	fmt.Fprintln(w, "\n## Components\n\n| component | version |\n|---|---|")
	for _, k := range slices.Sorted(maps.Keys(versions)) {
		fmt.Fprintf(w, "| %s | %s |\n", k, versions[k])
	}
}

// writeRatios compares the first system with the second at each N both measured.
func writeRatios(w io.Writer, systems []string, by map[string][]Batch) {
	if len(systems) < 2 {
		return
	}
	a, v := systems[0], systems[1]
	fmt.Fprintf(w, "\n### Ratio %s / %s at each N (below 1: %s less)\n\n| N | Accepted→Prepared p50 | p99 | created→Prepared p50 | p99 | API requests per DataUpload | CPU | peak RSS |\n|---|---|---|---|---|---|---|---|\n", a, v, a)
	ratio := func(x, y float64) string {
		if y == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", x/y)
	}
	for _, ba := range by[a] {
		for _, bv := range by[v] {
			if ba.Backups != bv.Backups {
				continue
			}
			ua, uv := ba.SystemUsage(), bv.SystemUsage()
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s | %s |\n", ba.Backups, ratio(float64(ba.Percentile(50)), float64(bv.Percentile(50))),
				ratio(float64(ba.Percentile(99)), float64(bv.Percentile(99))), ratio(float64(Percentile(ba.EndToEnd, 50)), float64(Percentile(bv.EndToEnd, 50))),
				ratio(float64(Percentile(ba.EndToEnd, 99)), float64(Percentile(bv.EndToEnd, 99))), ratio(ba.RequestsPerDU(), bv.RequestsPerDU()),
				ratio(ua.CPUSeconds, uv.CPUSeconds), ratio(float64(ua.PeakRSSBytes), float64(uv.PeakRSSBytes)))
		}
	}
}

// writeStages gives each stage's median and p99 time from the stage before.
func writeStages(w io.Writer, systems []string, by map[string][]Batch) {
	fmt.Fprintln(w, "\n## Where the time goes: each stage's time from the one before, median / p99 (watch times)")
	fmt.Fprintf(w, "\n| system | N |")
	for s := StageAccepted; s < numStages; s++ {
		fmt.Fprintf(w, " → %s |", StageNames[s])
	}
	fmt.Fprintf(w, "\n|---|---|%s\n", strings.Repeat("---|", int(numStages-1)))
	for _, sys := range systems {
		for _, b := range by[sys] {
			d := b.StageDurations()
			fmt.Fprintf(w, "| %s | %d |", sys, b.Backups)
			for s := StageAccepted; s < numStages; s++ {
				fmt.Fprintf(w, " %s / %s |", ms(Percentile(d[s], 50)), ms(Percentile(d[s], 99)))
			}
			fmt.Fprintln(w)
		}
	}
}

// writeComponents lists where the CPU went during each system's largest batch, by program.
func writeComponents(w io.Writer, systems []string, by map[string][]Batch) {
	for _, sys := range systems {
		b := by[sys][len(by[sys])-1]
		wall := b.Wall.Seconds()
		fmt.Fprintf(w, "\n### CPU by program while %s ran N=%d (from the batch start until every DataUpload was Prepared; %d cores = %d CPU-seconds per second)\n\n", sys, b.Backups, runtime.NumCPU(), runtime.NumCPU())
		fmt.Fprintln(w, "| program | CPU | per second until the last Prepared | peak RSS |\n|---|---|---|---|")
		names := make([]string, 0, len(b.Usage))
		for n := range b.Usage {
			names = append(names, n)
		}
		sort.Strings(names)
		sort.SliceStable(names, func(i, j int) bool { return b.Usage[names[i]].CPUSeconds > b.Usage[names[j]].CPUSeconds })
		for _, n := range names {
			u := b.Usage[n]
			if u.CPUSeconds < 0.05 {
				continue
			}
			perSec := "n/a"
			if wall > 0 {
				perSec = fmt.Sprintf("%.2f", u.CPUSeconds/wall)
			}
			fmt.Fprintf(w, "| %s | %.1f s | %s | %s |\n", n, u.CPUSeconds, perSec, mib(u.PeakRSSBytes))
		}
		agents := slices.SortedFunc(maps.Keys(b.Requests), func(x, y string) int {
			return cmp.Or(cmp.Compare(b.Requests[y].Total, b.Requests[x].Total), strings.Compare(x, y))
		})
		var parts []string
		for _, a := range agents {
			parts = append(parts, fmt.Sprintf("%s %d", a, b.Requests[a].Total))
		}
		fmt.Fprintf(w, "\nAPI requests during that batch, by user agent: %s.\n", strings.Join(parts, ", "))
	}
}

// writeScenarios renders the page's two scenarios.
func writeScenarios(w io.Writer, batches []Batch) {
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
}
