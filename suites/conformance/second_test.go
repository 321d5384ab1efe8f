package conformance

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/backuppvc-conformance/harness/suites/sut"
)

// secondInstallation starts, for the running spec, a second installation of the system under test
// (one that runs as processes on the harness's machine: Props.OnHost) in a Velero namespace of its
// own, shared.VeleroNS + "-" + suffix, holding a copy of the run's node-agent ConfigMap under its
// usual name. With named, the installation is started with --node-agent-configmap naming it; without,
// with none. It returns a Checker for that installation, whose Killer (if the system is one) kills
// and restarts it alone: the DataUploads of the other specs, in the run's namespace, are not its.
// The installation starts in the background, while the spec makes its source volume: the
// Checker's Backup waits for it before it creates the Backup (Checker.Installed).
// Everything goes when the spec ends: its DataUploads drained, the installation stopped, then the
// namespace and the copy (tr).
func secondInstallation(ctx context.Context, tr *Tracker, suffix string, named bool) *Checker {
	GinkgoHelper()
	ns := shared.VeleroNS + "-" + suffix
	Expect(tr.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: managedLabels()}})).To(Succeed())
	cm := &corev1.ConfigMap{}
	Expect(res.Get(ctx, NodeAgentConfigMap, shared.VeleroNS, cm)).To(Succeed())
	Expect(tr.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: cm.Name, Labels: managedLabels()}, Data: cm.Data})).To(Succeed())
	cfg := shared.SUT
	cfg.Namespace = ns
	if !named {
		cfg.NodeAgentConfigMap = ""
	}
	cfg.WorkDir, cfg.LogDir = cfg.WorkDir+"-"+suffix, cfg.LogDir+"-"+suffix
	second, err := sut.New(cfg)
	Expect(err).NotTo(HaveOccurred())
	started := make(chan error, 1)
	go func() { started <- second.Start(ctx) }()
	installed := sync.OnceValue(func() error {
		if err := <-started; err != nil {
			return fmt.Errorf("starting a second %s in %s: %w", second.Name(), ns, err)
		}
		return nil
	})
	// Stopped only once its start has ended, however the spec ended.
	DeferCleanup(func(ctx context.Context) {
		_ = installed()
		Expect(sut.StopDraining(ctx, res.GetControllerRuntimeClient(), ns, second, 2*time.Minute)).To(Succeed())
	})
	observing, stop := context.WithCancel(context.Background())
	DeferCleanup(stop)
	obs, err := Observe(observing, res.GetConfig(), ns)
	Expect(err).NotTo(HaveOccurred())

	k := *checker
	k.Shared.VeleroNS, k.Obs, k.Logs, k.Killer, k.Installed = ns, obs, second.LogFiles, nil, installed
	if killer, ok := second.(sut.Killer); ok {
		k.Killer = killer
	}
	return &k
}
