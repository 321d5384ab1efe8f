package conformance

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/suites/sut"
)

var _ = Describe("node-agent with no ConfigMap", Label("config", "noConfigMap"), func() {
	// A second installation of the system under test, in a Velero namespace of its own that
	// holds a copy of the run's ConfigMap under its usual name, started with no
	// --node-agent-configmap, backs up a source whose class has an entry in that ConfigMap (the
	// override scenario's): with no ConfigMap named, the entry must not count, and the backupPVC
	// takes the defaults.
	It("A6 no --node-agent-configmap: no backupPVC configuration, the backupPVC in the source class and ReadWriteOnce", func(ctx SpecContext) {
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
		ns := shared.VeleroNS + "-a6"
		Expect(tr.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: managedLabels()}})).To(Succeed())
		// The run's ConfigMap, under its own name, is in that namespace too: present, but not
		// named, it must not count either.
		cm := &corev1.ConfigMap{}
		Expect(res.Get(ctx, NodeAgentConfigMap, shared.VeleroNS, cm)).To(Succeed())
		Expect(tr.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: cm.Name, Labels: managedLabels()}, Data: cm.Data})).To(Succeed())
		cfg := shared.SUT
		cfg.Namespace, cfg.NodeAgentConfigMap = ns, ""
		cfg.WorkDir, cfg.LogDir = cfg.WorkDir+"-a6", cfg.LogDir+"-a6"
		second, err := sut.New(cfg)
		Expect(err).NotTo(HaveOccurred())
		Expect(second.Start(ctx)).To(Succeed(), "starting %s with no ConfigMap in %s", second.Name(), ns)
		DeferCleanup(func(ctx context.Context) {
			Expect(sut.StopDraining(ctx, res.GetControllerRuntimeClient(), ns, second, 2*time.Minute)).To(Succeed())
		})
		observing, stop := context.WithCancel(context.Background())
		DeferCleanup(stop)
		obs, err := Observe(observing, res.GetConfig(), ns)
		Expect(err).NotTo(HaveOccurred())

		k := *checker
		k.Shared.VeleroNS, k.Obs, k.Logs, k.Killer = ns, obs, second.LogFiles, nil
		r, err := k.Backup(ctx, tr, sc, 1)
		Expect(err).NotTo(HaveOccurred(), "the backup through %s started with no ConfigMap", second.Name())
		AddReportEntry("evidence", "the source class has the entry "+checker.Classes.expand(sc.Entry)+" in the run's ConfigMap, ignored with none named; "+strings.Join(r.Evidence, "; "))
	})
})
