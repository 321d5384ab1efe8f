package conformance

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	"github.com/backuppvc-conformance/harness/suites/report"
	"github.com/backuppvc-conformance/harness/suites/sut"
)

var _ = Describe("backupPVC", func() {
	// What the running spec touched, for its diagnostics if it fails.
	var touched struct {
		sync.Mutex
		namespaces, dataUploads []string
	}
	record := func(r *Result) {
		touched.Lock()
		defer touched.Unlock()
		touched.namespaces = append(touched.namespaces, r.Namespace)
		if r.DataUpload != "" {
			touched.dataUploads = append(touched.dataUploads, r.DataUpload)
		}
	}
	BeforeEach(func() {
		touched.namespaces, touched.dataUploads = nil, nil
	})
	JustAfterEach(func(ctx SpecContext) {
		if !CurrentSpecReport().Failed() {
			return
		}
		dir := filepath.Join(*flagArtifacts, "diagnostics", report.DiagnosticsFolder(CurrentSpecReport().FullText()))
		if err := WriteDiagnostics(ctx, res.GetControllerRuntimeClient(), dir, shared, system.LogFiles(), touched.namespaces, touched.dataUploads); err != nil {
			AddReportEntry("diagnostics", "could not write diagnostics: "+err.Error())
			return
		}
		AddReportEntry("diagnostics", dir)
	})

	for _, sc := range scenarios {
		labels := append([]string{"outcome:" + strings.ReplaceAll(sc.Outcome.String(), " ", "-")}, sc.Labels...)
		// A scale spec runs alone (after the others): its load must not make theirs late, nor
		// theirs its. So does a restart spec: its kill must not reach the others' DataUploads, and
		// only the first process, where Serial specs run, holds the started system.
		decorators := []any{Label(labels...)}
		if sc.Scale > 1 || sc.Restart {
			decorators = append(decorators, Serial)
		}
		It(fmt.Sprintf("%s: %s -> %s", sc.Name, sc.Doc, sc.Outcome), append(decorators, func(ctx SpecContext) {
			if sc.Needs != "" {
				if _, ok := prof.Class(sc.Needs); !ok {
					Skip(fmt.Sprintf("profile %s has no class with role %s", prof.Name, sc.Needs))
				}
			}
			if sc.WriteProbe && (!checker.Props.DataPath || shared.MoverImage == "") {
				Skip("needs backupPods a real kubelet runs (the kind lane) and the harness's data mover image to probe them")
			}
			if sc.WriteProbe && checker.Props.DataMover != sut.HarnessDataMover && sc.WantMode != corev1.ReadOnlyMany {
				Skip("the system's own data mover is reading the volume: a probe's write into it could change what is backed up (the read-only probe runs in its backupPod)")
			}
			if sc.WriteProbe && sc.WantMode == corev1.ReadOnlyMany && !prof.Capabilities.ReadOnlyEnforcedAtMount {
				Skip(fmt.Sprintf("profile %s: the driver does not declare readOnlyEnforcedAtMount, so a refused write is not expected of it", prof.Name))
			}
			if sc.RestoreSize != "" && prof.Capabilities.RestoreSizeParameter == "" {
				Skip(fmt.Sprintf("profile %s names no restoreSizeParameter: the driver's snapshots cannot be made to report a restoreSize other than the source's request", prof.Name))
			}
			if sc.Outcome == Canceled && !shared.FailsUnrecoverablePods {
				Skip(fmt.Sprintf("the %s lane cannot make a backupPod fail before it runs (the local lane's kwok stage does)", shared.SUT.Lane))
			}
			if sc.Affinity && shared.AffinityHostname == "" {
				Skip("no schedulable, Ready node has a " + HostnameLabel + " label for loadAffinity to require")
			}
			if sc.Restart && checker.Killer == nil {
				Skip(fmt.Sprintf("the system under test %s cannot be killed and restarted by the harness (no sut.Killer)", system.Name()))
			}
			if sc.Block && !prof.Capabilities.Block {
				Skip(fmt.Sprintf("profile %s: the driver has no Block volumes", prof.Name))
			}
			// Whatever fails, everything the backups create goes, the last made first.
			tr := NewTracker(res.GetControllerRuntimeClient())
			DeferCleanup(func(ctx context.Context) { Expect(tr.CleanUp(ctx)).To(Succeed()) })
			n := max(sc.Scale, 1)
			results := make([]*Result, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					defer GinkgoRecover()
					results[i], errs[i] = checker.Backup(ctx, tr, sc, i)
				})
			}
			wg.Wait()
			var findings []string
			for _, r := range results {
				if r == nil {
					continue
				}
				findings = append(findings, r.Findings...)
				record(r)
			}
			if len(findings) > 0 {
				more := ""
				if len(findings) > 1 {
					more = fmt.Sprintf(" (and %d more backups of this spec alike)", len(findings)-1)
				}
				AddReportEntry("finding", findings[0]+more)
			}
			for i, err := range errs {
				Expect(err).NotTo(HaveOccurred(), "backup %d of %d", i+1, n)
			}
			if len(results) > 0 && results[0] != nil {
				evidence := results[0].Evidence
				if n > 1 {
					evidence = append(evidence, fmt.Sprintf("%d backups at once, all %s", n, sc.Outcome))
				}
				AddReportEntry("evidence", strings.Join(evidence, "; "))
			}
		}, SpecTimeout(prof.Timeouts.Provision.Duration*2+prof.Timeouts.Prepare.Duration+props.TimeoutCheckInterval+8*time.Minute))...)
	}
})
