package conformance

import (
	"context"
	"encoding/json"
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
	"github.com/backuppvc-conformance/harness/suites/sut"
)

var _ = Describe("node-agent ConfigMap", Label("config"), func() {
	// Each case starts the system under test against a ConfigMap Velero's node-agent refuses, in a
	// namespace of its own: it must refuse too, with a message naming the problem.
	DescribeTable("A4 A5 the system under test refuses to start",
		func(ctx SpecContext, fixture, want string) {
			ns := "bpvc-" + shared.RunID + "-cfg-" + strings.TrimSuffix(fixture, ".yaml")
			if fixture == "" {
				ns = "bpvc-" + shared.RunID + "-cfg-missing"
			}
			Expect(res.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: managedLabels()}})).To(Succeed())
			DeferCleanup(func(ctx context.Context) {
				Expect(res.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
			})
			name := "missing"
			if fixture != "" {
				fsys := os.DirFS(filepath.Join(toolchain.RepoRoot(), "fixtures", "configmaps"))
				Expect(decoder.DecodeEachFile(ctx, fsys, fixture, func(ctx context.Context, obj k8s.Object) error {
					obj.SetNamespace(ns)
					obj.SetLabels(managedLabels())
					name = obj.GetName()
					return res.Create(ctx, obj)
				})).To(Succeed())
			}
			out, code, err := sut.RunOnce(shared.ReferenceBin, "run", "--kubeconfig", shared.Kubeconfig, "--namespace", ns,
				"--node-agent-configmap", name, "--log-format", "text")
			Expect(err).NotTo(HaveOccurred())
			Expect(code).To(Equal(1), "exit code; output:\n%s", out)
			Expect(out).To(ContainSubstring(want))
			AddReportEntry("evidence", "refused: "+lastLine(out))
		},
		Entry("A4 missing ConfigMap", "", "ConfigMap "+"bpvc-"),
		Entry("A4 two data keys (velero install accepts them)", "two-keys.yaml", "2 data keys [backup.json restore.json]"),
		Entry("A4 binaryData only", "binary-only.yaml", "has only binaryData"),
		Entry("A4 invalid JSON", "invalid-json.yaml", "invalid character '}'"),
		Entry("A5 a string for a boolean", "string-boolean.yaml", "cannot unmarshal string"),
		Entry("documentation sample: a boolean annotation value", "doc-sample-annotation.yaml", "cannot unmarshal bool"),
	)

	It("A5 lint reports what Velero accepts silently in this run's ConfigMap", Label("lint"), func(ctx SpecContext) {
		cm := &corev1.ConfigMap{}
		Expect(res.Get(ctx, NodeAgentConfigMap, shared.VeleroNS, cm)).To(Succeed())
		cm.APIVersion, cm.Kind = "v1", "ConfigMap" // as kubectl get -o json writes it
		file := filepath.Join(GinkgoT().TempDir(), "cm.json")
		data, err := json.Marshal(cm)
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(file, data, 0o600)).To(Succeed())
		out, code, err := sut.RunOnce(shared.ReferenceBin, "lint", "-f", file, "-o", "json")
		Expect(err).NotTo(HaveOccurred())
		Expect(code).To(Equal(0), "warnings only; output:\n%s", out)
		var findings []struct{ Path, Severity, Message string }
		Expect(json.Unmarshal([]byte(out), &findings)).To(Succeed())
		var paths []string
		for _, f := range findings {
			paths = append(paths, f.Severity+" "+f.Path)
		}
		// The case-insensitive scenario's keys, and the empty-class entry that changes nothing.
		alias := `data["node-agent-config.json"].backupPVC["bpvc-` + shared.RunID
		Expect(paths).To(ContainElements(
			"warning "+alias+`-case-insensitive"].StorageClass`,
			"warning "+alias+`-case-insensitive"].readonly`,
			"warning "+alias+`-empty-class"]`))
		AddReportEntry("evidence", strings.Join(paths, "; "))
	})

	It("lint finds the documentation sample's error before Velero refuses it", Label("lint"), func(ctx SpecContext) {
		out, code, err := sut.RunOnce(shared.ReferenceBin, "lint", "-f", filepath.Join(toolchain.RepoRoot(), "fixtures", "configmaps", "doc-sample-annotation.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(code).To(Equal(1))
		Expect(out).To(ContainSubstring(`error data["config.json"].backupPVC.gold.annotations["fast-clone"]: annotation values must be strings`))
	})
})

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
