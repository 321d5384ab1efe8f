package conformance

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/klient/decoder"
	"sigs.k8s.io/e2e-framework/klient/k8s"

	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

var _ = Describe("node-agent ConfigMap", Label("config"), func() {
	// configMapNamespace makes the namespace of case id, with the fixture's ConfigMap in it (none
	// for ""), and returns it, the ConfigMap's name ("missing" when there is none) and the case's
	// tracker.
	configMapNamespace := func(ctx context.Context, id, fixture string) (string, string, *Tracker) {
		ns, name := "bpvc-"+shared.RunID+"-cfg-"+id, "missing"
		tr := NewTracker(res.GetControllerRuntimeClient())
		DeferCleanup(func(ctx context.Context) { Expect(tr.CleanUp(ctx)).To(Succeed()) })
		Expect(tr.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: managedLabels()}})).To(Succeed())
		if fixture != "" {
			fsys := os.DirFS(filepath.Join(toolchain.RepoRoot(), "fixtures", "configmaps"))
			Expect(decoder.DecodeEachFile(ctx, fsys, fixture, func(ctx context.Context, obj k8s.Object) error {
				obj.SetNamespace(ns)
				obj.SetLabels(managedLabels())
				name = obj.GetName()
				return tr.Create(ctx, obj)
			})).To(Succeed())
		}
		return ns, name, tr
	}

	// Each case starts the system under test's node-agent side against a ConfigMap Velero's
	// node-agent refuses, in a namespace of its own: it must exit, saying what Velero says.
	DescribeTable("A4 A5 the system under test refuses to start",
		func(ctx SpecContext, fixture, want string) {
			id := strings.TrimSuffix(fixture, ".yaml")
			if fixture == "" {
				id = "missing"
			}
			ns, name, _ := configMapNamespace(ctx, id, fixture)
			refusal, err := system.TryConfigMap(ctx, ns, name)
			Expect(err).NotTo(HaveOccurred())
			Expect(refusal.Refused).To(BeTrue(), "it did not exit on ConfigMap %s/%s; output:\n%s", ns, name, refusal.Output)
			Expect(refusal.Output).To(ContainSubstring(want))
			AddReportEntry("evidence", "refused: "+refusal.Reason())
		},
		Entry("A4 missing ConfigMap", "", `configmaps "missing" not found`),
		Entry("A4 two data keys (velero install accepts them)", "two-keys.yaml", "more than one keys are found in ConfigMap two-keys's data"),
		Entry("A4 binaryData only", "binary-only.yaml", "data is not available in config map binary-only"),
		Entry("A4 invalid JSON", "invalid-json.yaml", "invalid character '}'"),
		Entry("A5 a string for a boolean", "string-boolean.yaml", "cannot unmarshal string"),
		Entry("documentation sample: a boolean annotation value", "doc-sample-annotation.yaml", "cannot unmarshal bool"),
	)

	// The counterpart, so a system that refuses everything does not pass the table above: the
	// run's own ConfigMap (keys in the wrong case, an entry that changes nothing) is accepted.
	It("A5 the system under test starts on a ConfigMap Velero accepts", func(ctx SpecContext) {
		ns, _, tr := configMapNamespace(ctx, "accepted", "")
		cm := &corev1.ConfigMap{}
		Expect(res.Get(ctx, NodeAgentConfigMap, shared.VeleroNS, cm)).To(Succeed())
		name := cm.Name
		Expect(tr.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: managedLabels()}, Data: cm.Data})).To(Succeed())
		refusal, err := system.TryConfigMap(ctx, ns, name)
		Expect(err).NotTo(HaveOccurred())
		Expect(refusal.Refused).To(BeFalse(), "it refused the run's own ConfigMap; output:\n%s", refusal.Output)
		AddReportEntry("evidence", "accepted: "+refusal.Reason())
	})
})
