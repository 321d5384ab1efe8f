package conformance

import (
	"context"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/e2e-framework/klient/k8s/resources"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/lane"
	"github.com/backuppvc-conformance/harness/suites/report"
	"github.com/backuppvc-conformance/harness/suites/sut"
)

var (
	flagLane        = flag.String("lane", "", "local, kind or existing; empty skips the suites (make e2e sets it)")
	flagLaneName    = flag.String("lane-name", "e2e", "name of the local lane")
	flagDriver      = flag.String("driver", "emulator", "driver profile: a folder under drivers/ or a profile.yaml")
	flagKubeconfig  = flag.String("lane-kubeconfig", os.Getenv("KUBECONFIG"), "cluster of the existing lane")
	flagArtifacts   = flag.String("artifacts", filepath.Join(toolchain.RepoRoot(), "artifacts"), "reports, diagnostics and logs")
	flagKindImages  = flag.String("kind-images", envOr("BACKUPPVC_KIND_IMAGES", "auto"), "kind lane: offline (build the node image here), upstream (kindest/node) or auto")
	flagInstallCRDs = flag.Bool("install-crds", os.Getenv("INSTALL_CRDS") == "1", "existing lane: install the Velero and snapshot CRDs the cluster lacks, from the pinned modules, and remove exactly those at the end")
	flagFailsPods   = flag.Bool("lane-fails-unrecoverable-pods", false, "existing lane: the cluster fails every pod named "+lane.UnrecoverablePodPrefix+"... before it runs (a kwok stage like the local lane's), so the unrecoverable-pod spec runs")
	flagPodImage    = flag.String("backup-pod-image", os.Getenv("BACKUP_POD_IMAGE"), "existing lane: the harness's data mover image on the cluster's nodes (default: the profile's backupPodImage)")
	flagPrepare     = flag.Duration("prepare-timeout", 0, "the system under test's prepare timeout (default: the profile's timeouts.prepare)")
	flagSUT         = flag.String("sut", "reference", "the system under test: "+strings.Join(sut.Names, " or "))
)

var (
	prof      *profile.Profile
	scenarios []Scenario
	shared    Shared
	res       *resources.Resources
	checker   *Checker
	// system is the system under test as every process sees it (not started there); props its
	// properties as known before the lane is up (what the specs' timeouts need).
	system sut.SUT
	props  sut.Properties
	setup  *Setup // first process only
	// stopObserving ends this process's Observer.
	stopObserving context.CancelFunc
)

func TestConformance(t *testing.T) {
	if *flagLane == "" {
		t.Skip("the conformance suites need a lane: run them with make e2e")
	}
	var err error
	if prof, err = profile.Find(toolchain.RepoRoot(), *flagDriver); err != nil {
		t.Fatal(err)
	}
	if !prof.SupportsLane(*flagLane) {
		t.Fatalf("profile %s does not support the %s lane (its lanes: %v)", prof.Name, *flagLane, prof.Lanes)
	}
	if *flagLane == "kind" && prof.Timeouts.PrepareOnKind.Duration > 0 {
		prof.Timeouts.Prepare = prof.Timeouts.PrepareOnKind
	}
	if *flagPrepare > 0 {
		prof.Timeouts.Prepare.Duration = *flagPrepare
	}
	scenarios = Scenarios(prof)
	before, err := sut.New(sut.Config{SUT: *flagSUT, Lane: *flagLane})
	if err != nil {
		t.Fatal(err)
	}
	props = before.Properties()
	klog.SetLogger(funcr.New(func(string, string) {}, funcr.Options{}))
	ctrllog.SetLogger(funcr.New(func(string, string) {}, funcr.Options{}))
	RegisterFailHandler(Fail)
	// Every spec shuffled on its own, not only the top-level containers: Ginkgo honours
	// SpecPriority between shuffled units, so only then do the long specs start first (priority.go).
	suiteConfig, reporterConfig := GinkgoConfiguration()
	suiteConfig.RandomizeAllSpecs = true
	RunSpecs(t, "backupPVC conformance", suiteConfig, reporterConfig)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

var _ = SynchronizedBeforeSuite(func(ctx context.Context) []byte {
	log := funcr.New(func(_, args string) { GinkgoWriter.Println("lane:", args) }, funcr.Options{})
	var err error
	setup, err = SetUp(ctx, Options{Lane: *flagLane, LaneName: *flagLaneName, Kubeconfig: *flagKubeconfig, Profile: prof,
		Artifacts: *flagArtifacts, KindImages: *flagKindImages, BackupPodImage: *flagPodImage, InstallCRDs: *flagInstallCRDs, UnrecoverablePods: *flagFailsPods, SUT: *flagSUT, Log: log}, scenarios)
	Expect(err).NotTo(HaveOccurred(), "bringing the %s lane up", *flagLane)
	data, err := json.Marshal(setup.Shared)
	Expect(err).NotTo(HaveOccurred())
	return data
}, func(ctx context.Context, data []byte) {
	Expect(json.Unmarshal(data, &shared)).To(Succeed())
	cfg, err := RESTConfig(shared.Kubeconfig)
	Expect(err).NotTo(HaveOccurred())
	res, err = Resources(cfg)
	Expect(err).NotTo(HaveOccurred())
	var observeCtx context.Context
	observeCtx, stopObserving = context.WithCancel(context.Background())
	obs, err := Observe(observeCtx, cfg, shared.VeleroNS)
	Expect(err).NotTo(HaveOccurred())
	system, err = sut.New(shared.SUT)
	Expect(err).NotTo(HaveOccurred())
	checker = &Checker{Res: res, Obs: obs, Shared: shared, Profile: prof, Classes: ClassesFor(prof, shared.RunID), Props: system.Properties(),
		Logs: system.LogFiles}
	if setup != nil { // the first process: it started the system, and runs the Serial specs
		if k, ok := setup.SUT.(sut.Killer); ok {
			checker.Killer = k
		}
	}
}, NodeTimeout(15*time.Minute)) // the kind lane may build its images on a first run

var _ = SynchronizedAfterSuite(func() {
	if stopObserving != nil {
		stopObserving()
	}
}, func(ctx context.Context) {
	if setup == nil {
		return
	}
	Expect(setup.Finish(ctx)).To(Succeed())
}, NodeTimeout(3*60e9))

var _ = ReportAfterSuite("certification report", func(r Report) {
	if prof == nil {
		return
	}
	info := report.Info{Lane: *flagLane, Driver: prof.Driver, Profile: prof.Name, SUTName: *flagSUT, RunID: shared.RunID,
		Diagnostics: filepath.Join(*flagArtifacts, "diagnostics")}
	info.Versions = map[string]string{}
	if setup != nil {
		maps.Copy(info.Versions, setup.Lane.Versions())
	}
	if system != nil {
		info.SUT = system.Description()
		maps.Copy(info.Versions, system.Versions())
	}
	f, err := os.Create(filepath.Join(*flagArtifacts, "certification.md"))
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	Expect(report.Write(f, r, info)).To(Succeed())
	Expect(report.WriteResults(filepath.Join(*flagArtifacts, "results.json"), r, info)).To(Succeed())
})
