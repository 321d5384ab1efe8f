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
	// What the running spec touched, for its diagnostics if it fails: its namespaces and
	// DataUploads, and the installation of the system under test that ran them (the run's, or a
	// second one of the spec's own).
	var touched struct {
		sync.Mutex
		namespaces, dataUploads []string
		shared                  Shared
		logs                    func() []string
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
		touched.shared, touched.logs = shared, system.LogFiles
	})
	JustAfterEach(func(ctx SpecContext) {
		if !CurrentSpecReport().Failed() {
			return
		}
		dir := filepath.Join(*flagArtifacts, "diagnostics", report.DiagnosticsFolder(CurrentSpecReport().FullText()))
		if err := WriteDiagnostics(ctx, res.GetControllerRuntimeClient(), dir, touched.shared, touched.logs(), touched.namespaces, touched.dataUploads); err != nil {
			AddReportEntry("diagnostics", "could not write diagnostics: "+err.Error())
			return
		}
		AddReportEntry("diagnostics", dir)
	})

	for _, sc := range scenarios {
		labels := append([]string{"outcome:" + strings.ReplaceAll(sc.Outcome.String(), " ", "-")}, sc.Labels...)
		// A restart spec kills a second installation of its own where the system runs on the
		// harness's machine (OnHost), in parallel with the others; elsewhere it kills the run's
		// system, so it runs alone, after the others, on the first process, the one that holds it.
		// A scale spec runs beside the others, started first, unless the system's data paths
		// really run one at a time per node: its backups would then hold the others' DataUploads
		// Prepared past their deadlines (Velero on kind: 5 minutes, seen).
		restartsOwn := sc.Restart && props.OnHost
		queues := sc.Scale > 1 && props.DataPath && props.QueuedDataPaths
		decorators := []any{Label(labels...), SpecPriority(sc.priority())}
		if (sc.Restart && !restartsOwn) || queues {
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
			// Where the spec kills the run's system it runs on the first process, which holds it:
			// its checker.Killer is set exactly when the system is a Killer.
			if _, killable := system.(sut.Killer); sc.Restart && !killable {
				Skip(fmt.Sprintf("the system under test %s cannot be killed and restarted by the harness (no sut.Killer)", system.Name()))
			}
			if sc.Block && !prof.Capabilities.Block {
				Skip(fmt.Sprintf("profile %s: the driver has no Block volumes", prof.Name))
			}
			// Whatever fails, everything the backups create goes, the last made first.
			tr := NewTracker(res.GetControllerRuntimeClient())
			DeferCleanup(func(ctx context.Context) { Expect(tr.CleanUp(ctx)).To(Succeed()) })
			k := checker
			if restartsOwn {
				k = secondInstallation(ctx, tr, "restart", true)
				touched.shared, touched.logs = k.Shared, k.Logs
			}
			n := max(sc.Scale, 1)
			results := make([]*Result, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					defer GinkgoRecover()
					results[i], errs[i] = k.Backup(ctx, tr, sc, i)
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
