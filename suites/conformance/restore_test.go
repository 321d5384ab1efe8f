package conformance

import (
	"context"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// restoreScenario is the scenario whose backup the restore spec restores: a backupPVC in the
// backup class, so the data came through an overridden class.
const restoreScenario = "override"

var _ = Describe("restore", func() {
	It("restore: the bytes a data-mover backup moved come back through a Velero Restore -> Completed, same size and sha256", Label("outcome:Completed", "restore"), func(ctx SpecContext) {
		if !checker.Props.Restores {
			Skip("the system under test's data mover does not upload (the reference's only reads the volume): there is nothing to restore")
		}
		if !checker.Props.DataPath || shared.MoverImage == "" {
			Skip("needs a data path: backupPods a real kubelet runs (the kind lane) and the harness's image to write and read the volumes")
		}
		i := slices.IndexFunc(scenarios, func(s Scenario) bool { return s.Name == restoreScenario })
		Expect(i).To(BeNumerically(">=", 0), "scenario %s", restoreScenario)
		tr := NewTracker(res.GetControllerRuntimeClient())
		DeferCleanup(func(ctx context.Context) { Expect(tr.CleanUp(ctx)).To(Succeed()) })
		r, err := checker.Backup(ctx, tr, scenarios[i], 1)
		Expect(err).NotTo(HaveOccurred(), "the backup to restore")
		_, err = checker.Restore(ctx, tr, r)
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("evidence", strings.Join(r.Evidence, "; "))
	}, SpecTimeout(prof.Timeouts.Provision.Duration*3+prof.Timeouts.Prepare.Duration*4+props.TimeoutCheckInterval*2+8*time.Minute))
})
