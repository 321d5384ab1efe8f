package conformance

import (
	"context"
	"fmt"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	"github.com/backuppvc-conformance/harness/drivers/profile"
)

var _ = Describe("node-agent with no ConfigMap", Label("config", "noConfigMap"), func() {
	// A second installation of the system under test, in a Velero namespace of its own that
	// holds a copy of the run's ConfigMap under its usual name, started with no
	// --node-agent-configmap, backs up a source whose class has an entry in that ConfigMap (the
	// override scenario's): with no ConfigMap named, the entry must not count, and the backupPVC
	// takes the defaults.
	It("A6 no --node-agent-configmap: no backupPVC configuration, the backupPVC in the source class and ReadWriteOnce", SpecPriority(prioritySecondInstallation), func(ctx SpecContext) {
		if !checker.Props.OnHost {
			Skip(fmt.Sprintf("%s is installed in the cluster: a second installation for this spec would be a second install", system.Name()))
		}
		i := slices.IndexFunc(scenarios, func(s Scenario) bool { return s.Name == "override" })
		if _, ok := prof.Class(profile.RoleBackup); !ok || i < 0 {
			Skip(fmt.Sprintf("profile %s has no class with role %s for an entry to ignore", prof.Name, profile.RoleBackup))
		}
		sc := scenarios[i]
		sc.WantClass, sc.WantMode = "", corev1.ReadWriteOnce // B2's defaults, whatever the entry says

		tr := NewTracker(res.GetControllerRuntimeClient())
		DeferCleanup(func(ctx context.Context) { Expect(tr.CleanUp(ctx)).To(Succeed()) })
		// The run's ConfigMap, under its own name, is in that namespace too: present, but not
		// named, it must not count either.
		k := secondInstallation(ctx, tr, "a6", false)
		r, err := k.Backup(ctx, tr, sc, 1)
		Expect(err).NotTo(HaveOccurred(), "the backup through a second %s started with no ConfigMap", system.Name())
		AddReportEntry("evidence", "the source class has the entry "+checker.Classes.expand(sc.Entry)+" in the run's ConfigMap, ignored with none named; "+strings.Join(r.Evidence, "; "))
	})
})
