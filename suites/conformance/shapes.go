package conformance

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The names Velero v1.18.3 gives what its exposer makes (pkg/exposer/types.go,
// pkg/apis/velero/v1/labels_annotations.go), as the suites see them from outside.
const (
	ExposeOnGoingLabel = "velero.io/expose-on-going"
	DataUploadLabel    = "velero.io/data-upload"
	PodGroupLabel      = "velero.io/exposer-pod-group"
	PodGroupSnapshot   = "snapshot-exposer"
)

// kubeAnnotationPrefixes are the annotations Kubernetes' controllers put on a claim (binding,
// provisioning); they are not the exposer's.
var kubeAnnotationPrefixes = []string{"pv.kubernetes.io/", "volume.beta.kubernetes.io/", "volume.kubernetes.io/"}

// ownAnnotations are a claim's annotations less those Kubernetes adds.
func ownAnnotations(in map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range in {
		if !slices.ContainsFunc(kubeAnnotationPrefixes, func(p string) bool { return strings.HasPrefix(k, p) }) {
			out[k] = v
		}
	}
	return out
}

// entryAnnotations are the annotations the scenario's backupPVC entry asks for (B5), decoded as
// Velero decodes the entry (encoding/json: keys match case-insensitively).
func (c Classes) entryAnnotations(sc Scenario) map[string]string {
	out := map[string]string{}
	if sc.Entry == "" {
		return out
	}
	var e struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal([]byte(c.expand(sc.Entry)), &e); err == nil {
		maps.Copy(out, e.Annotations)
	}
	return out
}

// controlledBy says what is wrong with refs if they are not exactly one controller reference to
// DataUpload du ("" when they are) (B5, C1).
func controlledBy(refs []metav1.OwnerReference, du string) string {
	if len(refs) != 1 || refs[0].Kind != "DataUpload" || refs[0].Name != du || !ptr.Deref(refs[0].Controller, false) {
		var got []string
		for _, r := range refs {
			got = append(got, fmt.Sprintf("%s/%s controller=%v", r.Kind, r.Name, ptr.Deref(r.Controller, false)))
		}
		return fmt.Sprintf("ownerReferences %v, want one controller reference to DataUpload %s", got, du)
	}
	return ""
}

// podShape: the backupPod as C1, C3 and C4 fix it: controlled by its DataUpload, never restarted,
// no grace period, run as root, labelled with its DataUpload and the exposer's pod group.
func podShape(pod *corev1.Pod, du string) []string {
	var problems []string
	if p := controlledBy(pod.OwnerReferences, du); p != "" {
		problems = append(problems, p)
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		problems = append(problems, fmt.Sprintf("restartPolicy %s, want Never", pod.Spec.RestartPolicy))
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || *g != 0 {
		problems = append(problems, fmt.Sprintf("terminationGracePeriodSeconds %v, want 0", ptr.Deref(g, -1)))
	}
	if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		problems = append(problems, "securityContext.runAsUser not 0: the data mover must run as root")
	}
	if pod.Labels[DataUploadLabel] != du || pod.Labels[PodGroupLabel] != PodGroupSnapshot {
		problems = append(problems, fmt.Sprintf("labels %v, want %s=%s and %s=%s", pod.Labels, DataUploadLabel, du, PodGroupLabel, PodGroupSnapshot))
	}
	return problems
}

// spcType is the SELinux type Velero gives the backupPod with an effective spcNoRelabeling.
const spcType = "spc_t"

// spcPlaces are the securityContexts of pod that set seLinuxOptions.type spc_t: "pod", or
// "container <name>" / "initContainer <name>".
func spcPlaces(pod *corev1.Pod) []string {
	var out []string
	if sc := pod.Spec.SecurityContext; sc != nil && sc.SELinuxOptions != nil && sc.SELinuxOptions.Type == spcType {
		out = append(out, "pod")
	}
	for kind, cs := range map[string][]corev1.Container{"container": pod.Spec.Containers, "initContainer": pod.Spec.InitContainers} {
		for _, c := range cs {
			if c.SecurityContext != nil && c.SecurityContext.SELinuxOptions != nil && c.SecurityContext.SELinuxOptions.Type == spcType {
				out = append(out, kind+" "+c.Name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// spcProblem says what is wrong with the backupPod's SELinux type ("" when nothing): with an
// effective spcNoRelabeling (the entry's readOnly and spcNoRelabeling both) Velero v1.18.3 sets
// spc_t in the pod's securityContext, and only there; without, spc_t nowhere (B9, C3).
func spcProblem(pod *corev1.Pod, want bool) string {
	places := spcPlaces(pod)
	switch {
	case want && !slices.Equal(places, []string{"pod"}):
		var got *corev1.SELinuxOptions
		if pod.Spec.SecurityContext != nil {
			got = pod.Spec.SecurityContext.SELinuxOptions
		}
		return fmt.Sprintf("securityContext.seLinuxOptions %+v (spc_t at %v), want pod securityContext.seLinuxOptions.type spc_t only: spcNoRelabeling with readOnly (B9, C3)", got, places)
	case !want && len(places) > 0:
		return fmt.Sprintf("seLinuxOptions.type spc_t at %v, want none: spcNoRelabeling takes effect only with readOnly (B9, C3)", places)
	}
	return ""
}

// affinityProblem says how the backupPod's required node affinity fails C5: every term it has
// must require the hostname of its backupPVC class's loadAffinity, and none the hostname of its
// source class's ("" when it is right).
func affinityProblem(pod *corev1.Pod, want, wrong string) string {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil ||
		len(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms) == 0 {
		return fmt.Sprintf("no required node affinity, want %s In [%s] (its backupPVC class's loadAffinity)", HostnameLabel, want)
	}
	requires := func(t corev1.NodeSelectorTerm, host string) bool {
		return slices.ContainsFunc(t.MatchExpressions, func(r corev1.NodeSelectorRequirement) bool {
			return r.Key == HostnameLabel && r.Operator == corev1.NodeSelectorOpIn && slices.Equal(r.Values, []string{host})
		})
	}
	for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		switch {
		case requires(t, wrong):
			return fmt.Sprintf("its node affinity requires %s In [%s], the source class's loadAffinity: matched against the wrong class", HostnameLabel, wrong)
		case !requires(t, want):
			return fmt.Sprintf("a required node affinity term %v lacks %s In [%s] (its backupPVC class's loadAffinity)", t.MatchExpressions, HostnameLabel, want)
		}
	}
	return ""
}
