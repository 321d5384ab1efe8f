package kind

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/lane"
)

func TestResolveSource(t *testing.T) {
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) }))
	defer registry.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		source, probe, want, wantErr string
	}{
		{source: "offline", probe: registry.URL, want: ImagesOffline},
		{source: "upstream", probe: closed.URL, want: ImagesUpstream},
		{source: "auto", probe: registry.URL, want: ImagesUpstream}, // any HTTP answer is a registry
		{source: "", probe: registry.URL, want: ImagesUpstream},
		{source: "auto", probe: closed.URL, want: ImagesOffline},
		{source: "online", probe: registry.URL, wantErr: `images "online": want offline, upstream or auto`},
	}
	defer func(p string) { registryProbe = p }(registryProbe)
	for _, tt := range tests {
		registryProbe = tt.probe
		got, err := resolveSource(context.Background(), tt.source, logr.Discard())
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("resolveSource(%q) error %v, want %q", tt.source, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("resolveSource(%q) with probe %s = %q, %v; want %q", tt.source, tt.probe, got, err, tt.want)
		}
	}
}

func TestClusterConfig(t *testing.T) {
	for _, offline := range []bool{true, false} {
		c := clusterConfig(offline)
		if strings.Contains(c, "disableDefaultCNI: true") != offline {
			t.Errorf("offline=%v: default CNI disabled must match (the offline node has a static CNI config):\n%s", offline, c)
		}
		for _, want := range []string{"apiServerAddress: 127.0.0.1", "failCgroupV1: false", "role: control-plane"} {
			if !strings.Contains(c, want) {
				t.Errorf("offline=%v: config lacks %q:\n%s", offline, want, c)
			}
		}
	}
}

// The sidecars' upstream RBAC is bound to the emulator pod's account in its namespace, nothing
// else: no service account of theirs, no binding to default or kube-system.
func TestRBACObjects(t *testing.T) {
	objs, err := rbacObjects(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	clusterRoles := map[string]bool{}
	for _, o := range objs {
		if o.GetLabels()[lane.ManagedByLabel] != lane.ManagedByValue {
			t.Errorf("%T %s is not labelled as the harness's", o, o.GetName())
		}
		switch v := o.(type) {
		case *rbacv1.ClusterRole:
			clusterRoles[v.Name] = true
		case *rbacv1.ClusterRoleBinding, *rbacv1.RoleBinding:
			var subjects []rbacv1.Subject
			if b, ok := v.(*rbacv1.ClusterRoleBinding); ok {
				subjects = b.Subjects
			} else {
				rb := v.(*rbacv1.RoleBinding)
				subjects = rb.Subjects
				if rb.Namespace != DriverNamespace {
					t.Errorf("RoleBinding %s in %s", rb.Name, rb.Namespace)
				}
			}
			if len(subjects) != 1 || subjects[0].Name != driverAccount || subjects[0].Namespace != DriverNamespace {
				t.Errorf("%T %s binds %v", v, o.GetName(), subjects)
			}
		case *rbacv1.Role:
			if v.Namespace != DriverNamespace {
				t.Errorf("Role %s in %s", v.Name, v.Namespace)
			}
		default:
			t.Errorf("unexpected %T %s", o, o.GetName())
		}
	}
	for _, want := range []string{"external-provisioner-runner", "external-snapshotter-runner", "snapshot-controller-runner"} {
		if !clusterRoles[want] {
			t.Errorf("no ClusterRole %s among %v", want, clusterRoles)
		}
	}
}

// The driver registers with the kubelet at the path the kubelet will dial, publishes through a
// Bidirectional mount of the kubelet's folder, and every profile driver gets a provisioner.
func TestEmulatorObjects(t *testing.T) {
	p, err := profile.Find(toolchain.RepoRoot(), "emulator")
	if err != nil {
		t.Fatal(err)
	}
	objs := emulatorObjects(p, "backuppvc/csi-emulator:test", "backuppvc/csi-sidecars:test")
	ds, ok := objs[len(objs)-1].(*appsv1.DaemonSet)
	if !ok {
		t.Fatalf("last object %T, want the DaemonSet", objs[len(objs)-1])
	}
	spec := ds.Spec.Template.Spec
	hostPaths := map[string]string{}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	byName := map[string]corev1.Container{}
	for _, c := range spec.Containers {
		byName[c.Name] = c
		want := "backuppvc/csi-sidecars:test"
		if strings.HasPrefix(c.Name, "csi-emulator") {
			want = "backuppvc/csi-emulator:test"
		}
		if c.Image != want {
			t.Errorf("container %s image %s, want %s", c.Name, c.Image, want)
		}
	}
	driver := byName["csi-emulator"]
	args := strings.Join(driver.Command, " ")
	wantEndpoint := filepath.Join(hostPaths["socket-dir"], "csi.sock")
	if !strings.Contains(args, "--kubelet-registration-path="+wantEndpoint) || !strings.Contains(args, "--endpoint=unix:///csi/csi.sock") {
		t.Errorf("driver registers %q, its socket dir is %s", args, hostPaths["socket-dir"])
	}
	if hostPaths["registration-dir"] != "/var/lib/kubelet/plugins_registry" {
		t.Errorf("registration dir %s", hostPaths["registration-dir"])
	}
	var kubeletMount *corev1.VolumeMount
	for i, m := range driver.VolumeMounts {
		if m.Name == "kubelet-dir" {
			kubeletMount = &driver.VolumeMounts[i]
		}
	}
	if kubeletMount == nil || kubeletMount.MountPath != hostPaths["kubelet-dir"] || kubeletMount.MountPropagation == nil ||
		*kubeletMount.MountPropagation != corev1.MountPropagationBidirectional {
		t.Errorf("kubelet folder mount %+v: want %s at the same path, Bidirectional", kubeletMount, hostPaths["kubelet-dir"])
	}
	if driver.SecurityContext == nil || driver.SecurityContext.Privileged == nil || !*driver.SecurityContext.Privileged {
		t.Error("the driver container must be privileged to mount")
	}
	for _, want := range []string{"csi-provisioner", "csi-snapshotter", "snapshot-controller", "csi-emulator-other", "csi-provisioner-other"} {
		if _, ok := byName[want]; !ok {
			t.Errorf("no container %s among %d", want, len(spec.Containers))
		}
	}
	if got := strings.Join(byName["csi-provisioner"].Command, " "); !strings.Contains(got, strings.Join(lane.ProvisionerFlags, " ")) {
		t.Errorf("provisioner flags %q lack the lanes' shared flags", got)
	}
	if spec.ServiceAccountName != driverAccount {
		t.Errorf("service account %s", spec.ServiceAccountName)
	}
}

// kubeadm v1.35's Corefile, as its addons/dns manifest renders it for cluster.local.
const kubeadmCorefile = `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
`

func TestClusterOnlyCorefile(t *testing.T) {
	got, err := clusterOnlyCorefile(kubeadmCorefile)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(strings.Replace(kubeadmCorefile, "    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n", "", 1), "    loop\n", "", 1)
	if got != want || strings.Contains(got, "forward") || strings.Contains(got, "loop\n") {
		t.Errorf("clusterOnlyCorefile =\n%s\nwant\n%s", got, want)
	}
	if _, err := clusterOnlyCorefile(".:53 {\n    errors\n}\n"); err == nil {
		t.Error("a Corefile without the forward block was accepted: the lane would not know DNS stays inside")
	}
}

func TestUpstreamNodeImage(t *testing.T) {
	pins := map[string]string{"KIND_VERSION": "v0.33.0", "KIND_UPSTREAM_NODE_IMAGE_1_35": "kindest/node:v1.35.8@sha256:07b2"}
	for _, tt := range []struct{ k8s, want, wantErr string }{
		{"v1.35.4", "kindest/node:v1.35.8@sha256:07b2", ""},
		{"v1.33.1", "", "add KIND_UPSTREAM_NODE_IMAGE_1_33 to hack/versions.env from kind v0.33.0's release notes"},
		{"latest", "", `KUBERNETES_VERSION "latest" is not vMAJOR.MINOR.PATCH`},
	} {
		pins["KUBERNETES_VERSION"] = tt.k8s
		got, err := upstreamNodeImage(pins)
		if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("upstreamNodeImage(%s) = %q, %v; want %q, %q", tt.k8s, got, err, tt.want, tt.wantErr)
		}
	}
}

// Every Kubernetes version of the GitHub Actions matrix has a pinned upstream node image.
func TestUpstreamNodeImagesPinnedForTheMatrix(t *testing.T) {
	versions, err := toolchain.Versions()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(toolchain.RepoRoot(), ".github", "workflows", "e2e.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var workflow struct {
		Jobs map[string]struct {
			Strategy struct {
				Matrix struct {
					Kubernetes []string `yaml:"kubernetes"`
				} `yaml:"matrix"`
			} `yaml:"strategy"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(data, &workflow); err != nil {
		t.Fatal(err)
	}
	matrix := workflow.Jobs["e2e"].Strategy.Matrix.Kubernetes
	if len(matrix) == 0 {
		t.Fatal("the workflow's e2e job has no kubernetes matrix")
	}
	for _, k := range matrix {
		versions["KUBERNETES_VERSION"] = k
		if img, err := upstreamNodeImage(versions); err != nil || !strings.Contains(img, "@sha256:") {
			t.Errorf("Kubernetes %s: %q, %v (want a kindest/node image with its digest)", k, img, err)
		}
	}
}
