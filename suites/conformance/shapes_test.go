package conformance

import (
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestPodShape(t *testing.T) {
	good := func() *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "du-1", Labels: map[string]string{DataUploadLabel: "du-1", PodGroupLabel: PodGroupSnapshot},
			OwnerReferences: []metav1.OwnerReference{{Kind: "DataUpload", Name: "du-1", Controller: ptr.To(true)}}},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, TerminationGracePeriodSeconds: ptr.To(int64(0)),
				SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To(int64(0))}}}
	}
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   string
	}{
		{name: "as the spec says", mutate: func(*corev1.Pod) {}},
		{name: "not the controller", mutate: func(p *corev1.Pod) { p.OwnerReferences[0].Controller = nil }, want: "want one controller reference to DataUpload du-1"},
		{name: "owned twice", mutate: func(p *corev1.Pod) { p.OwnerReferences = append(p.OwnerReferences, p.OwnerReferences[0]) }, want: "ownerReferences"},
		{name: "another owner", mutate: func(p *corev1.Pod) { p.OwnerReferences[0].Name = "du-2" }, want: "ownerReferences [DataUpload/du-2 controller=true]"},
		{name: "restarted", mutate: func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }, want: "restartPolicy OnFailure, want Never"},
		{name: "grace period", mutate: func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = nil }, want: "terminationGracePeriodSeconds -1, want 0"},
		{name: "not root", mutate: func(p *corev1.Pod) { p.Spec.SecurityContext.RunAsUser = ptr.To(int64(1000)) }, want: "runAsUser not 0"},
		{name: "no pod group", mutate: func(p *corev1.Pod) { delete(p.Labels, PodGroupLabel) }, want: "want velero.io/data-upload=du-1 and velero.io/exposer-pod-group=snapshot-exposer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good()
			tt.mutate(p)
			got := strings.Join(podShape(p, "du-1"), "; ")
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("podShape = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEntryAnnotationsAndOwnAnnotations(t *testing.T) {
	c := Classes{Backup: "fast"}
	for _, tt := range []struct {
		entry string
		want  map[string]string
	}{
		{"", map[string]string{}},
		{`{"storageClass": "{{backup}}"}`, map[string]string{}},
		{`{"storageClass": "{{backup}}", "Annotations": {"a": "1", "b/c": "2"}}`, map[string]string{"a": "1", "b/c": "2"}},
	} {
		if got := c.entryAnnotations(Scenario{Entry: tt.entry}); !maps.Equal(got, tt.want) {
			t.Errorf("entryAnnotations(%s) = %v, want %v", tt.entry, got, tt.want)
		}
	}
	got := ownAnnotations(map[string]string{"pv.kubernetes.io/bind-completed": "yes", "volume.kubernetes.io/storage-provisioner": "x",
		"volume.beta.kubernetes.io/storage-provisioner": "x", "a": "1"})
	if !maps.Equal(got, map[string]string{"a": "1"}) {
		t.Errorf("ownAnnotations = %v, want only a=1", got)
	}
}

func TestSPCProblem(t *testing.T) {
	spc := &corev1.SELinuxOptions{Type: spcType}
	pod := func(podLevel, container *corev1.SELinuxOptions) *corev1.Pod {
		p := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To(int64(0)), SELinuxOptions: podLevel},
			Containers: []corev1.Container{{Name: "mover"}}}}
		if container != nil {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{SELinuxOptions: container}
		}
		return p
	}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want bool
		err  string
	}{
		{"spc_t in the pod's securityContext, as Velero", pod(spc, nil), true, ""},
		{"none and none wanted", pod(nil, nil), false, ""},
		{"another type is not spc_t", pod(&corev1.SELinuxOptions{Type: "container_t"}, nil), false, ""},
		{"wanted, missing", pod(nil, nil), true, "want pod securityContext.seLinuxOptions.type spc_t"},
		{"wanted, on the container only", pod(nil, spc), true, "spc_t at [container mover]"},
		{"wanted, on both", pod(spc, spc), true, "spc_t at [container mover pod]"},
		{"not wanted, on the pod", pod(spc, nil), false, "spc_t at [pod], want none"},
		{"not wanted, on the container", pod(nil, spc), false, "spc_t at [container mover], want none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := spcProblem(tt.pod, tt.want)
			if (tt.err == "") != (got == "") || !strings.Contains(got, tt.err) {
				t.Errorf("spcProblem = %q, want %q", got, tt.err)
			}
		})
	}
}

func TestAffinityProblem(t *testing.T) {
	term := func(hosts ...string) corev1.NodeSelectorTerm {
		reqs := []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/os", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"windows"}}}
		for _, h := range hosts {
			reqs = append(reqs, corev1.NodeSelectorRequirement{Key: HostnameLabel, Operator: corev1.NodeSelectorOpIn, Values: []string{h}})
		}
		return corev1.NodeSelectorTerm{MatchExpressions: reqs}
	}
	pod := func(terms ...corev1.NodeSelectorTerm) *corev1.Pod {
		p := &corev1.Pod{}
		if terms != nil {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
		}
		return p
	}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"the backupPVC class's node", pod(term("node-a")), ""},
		{"every topology term carries it", pod(term("node-a"), term("node-a")), ""},
		{"no affinity", pod(), "no required node affinity"},
		{"the source class's node", pod(term("nowhere")), "matched against the wrong class"},
		{"a term without it", pod(term("node-a"), term()), "lacks kubernetes.io/hostname In [node-a]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := affinityProblem(tc.pod, "node-a", "nowhere")
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("affinityProblem = %q, want %q", got, tc.want)
			}
		})
	}
}
