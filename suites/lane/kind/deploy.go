package kind

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/klient/decoder"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/modsrc"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/lane"
)

// DriverNamespace holds the storage emulator and its sidecars.
const DriverNamespace = "backuppvc-csi"

// driverAccount is the one service account of the emulator's pod; the sidecars' upstream
// ClusterRoles are bound to it.
const driverAccount = "csi-emulator"

// kubeletDir is the kubelet's root folder on the node, where it looks for plugins.
const kubeletDir = "/var/lib/kubelet"

// upstreamRBAC are the sidecars' own RBAC manifests, from their modules at the pinned versions:
// module path, version variable, file inside the module.
var upstreamRBAC = [][3]string{
	{"github.com/kubernetes-csi/external-provisioner/v6", "EXTERNAL_PROVISIONER_VERSION", "deploy/kubernetes/rbac.yaml"},
	{"github.com/kubernetes-csi/external-snapshotter/v8", "EXTERNAL_SNAPSHOTTER_VERSION", "deploy/kubernetes/csi-snapshotter/rbac-csi-snapshotter.yaml"},
	{"github.com/kubernetes-csi/external-snapshotter/v8", "EXTERNAL_SNAPSHOTTER_VERSION", "deploy/kubernetes/snapshot-controller/rbac-snapshot-controller.yaml"},
}

func managed() map[string]string { return map[string]string{lane.ManagedByLabel: lane.ManagedByValue} }

// rbacObjects reads the upstream RBAC manifests and moves them onto our namespace and service
// account (the manifests bind their own accounts in default and kube-system).
func rbacObjects(ctx context.Context) ([]client.Object, error) {
	versions, err := toolchain.Versions()
	if err != nil {
		return nil, err
	}
	var out []client.Object
	for _, src := range upstreamRBAC {
		dir, err := modsrc.Dir(src[0] + "@" + versions[src[1]])
		if err != nil {
			return nil, err
		}
		f, err := os.Open(filepath.Join(dir, src[2]))
		if err != nil {
			return nil, fmt.Errorf("kind lane: %w", err)
		}
		objs, err := decoder.DecodeAll(ctx, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("kind lane: %s: %w", src[2], err)
		}
		for _, o := range objs {
			switch v := o.(type) {
			case *corev1.ServiceAccount:
				continue // one account for the pod, below
			case *rbacv1.ClusterRoleBinding:
				v.Subjects = []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: driverAccount, Namespace: DriverNamespace}}
			case *rbacv1.RoleBinding:
				v.Subjects = []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: driverAccount, Namespace: DriverNamespace}}
				v.Namespace = DriverNamespace
			case *rbacv1.Role:
				v.Namespace = DriverNamespace
			case *rbacv1.ClusterRole:
			default:
				return nil, fmt.Errorf("kind lane: %s: unexpected %T %s", src[2], o, o.GetName())
			}
			o.SetLabels(managed())
			o.SetResourceVersion("")
			out = append(out, o.(client.Object))
		}
	}
	return out, nil
}

// emulatorObjects is the emulator's deployment (the driver from image, the sidecars from
// sidecarsImage): one pod on the node running the driver (its
// controller and node services in one process, since its state is in-process, registering itself
// with the kubelet), csi-provisioner and csi-snapshotter on its socket, the profile's extra driver
// instances each with a provisioner, and snapshot-controller.
func emulatorObjects(p *profile.Profile, image, sidecarsImage string) []client.Object {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: DriverNamespace, Labels: managed()}}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: driverAccount, Namespace: DriverNamespace, Labels: managed()}}
	hostPath := func(name, path string, t corev1.HostPathType) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path, Type: ptr.To(t)}}}
	}
	sidecar := func(name, bin string, flags []string, mounts ...corev1.VolumeMount) corev1.Container {
		return corev1.Container{Name: name, Image: sidecarsImage, ImagePullPolicy: corev1.PullIfNotPresent,
			Command: append([]string{"/usr/local/bin/" + bin}, flags...), VolumeMounts: mounts}
	}
	// The profile's own arguments, filled in for the pod: no status socket here, and the extra
	// instances report no node (they serve no node calls).
	args := func(ph profile.Placeholders) []string {
		if p.Local == nil {
			return nil
		}
		return p.Local.Argv(ph)
	}
	driver := p.Driver
	pluginDir := filepath.Join(kubeletDir, "plugins", driver)
	socketMount := corev1.VolumeMount{Name: "socket-dir", MountPath: "/csi"}
	bidirectional := corev1.MountPropagationBidirectional
	containers := []corev1.Container{
		{
			Name: "csi-emulator", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
			Command: append(append([]string{"/usr/local/bin/csi-emulator"},
				args(profile.Placeholders{Endpoint: "unix:///csi/csi.sock", Driver: driver, Node: "$(NODE_NAME)", StateDir: "/var/lib/backuppvc-csi/" + driver})...),
				"--registration-socket=/registration/"+driver+"-reg.sock",
				"--kubelet-registration-path="+filepath.Join(pluginDir, "csi.sock")),
			Env:             []corev1.EnvVar{{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}},
			SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
			VolumeMounts: []corev1.VolumeMount{socketMount,
				{Name: "registration-dir", MountPath: "/registration"},
				{Name: "kubelet-dir", MountPath: kubeletDir, MountPropagation: &bidirectional},
				{Name: "state-dir", MountPath: "/var/lib/backuppvc-csi"}},
		},
		sidecar("csi-provisioner", "csi-provisioner", append([]string{"--csi-address=/csi/csi.sock"}, lane.ProvisionerFlags...), socketMount),
		sidecar("csi-snapshotter", "csi-snapshotter", append([]string{"--csi-address=/csi/csi.sock"}, lane.SnapshotterFlags...), socketMount),
		sidecar("snapshot-controller", "snapshot-controller", lane.SnapshotControllerFlags),
	}
	volumes := []corev1.Volume{
		hostPath("socket-dir", pluginDir, corev1.HostPathDirectoryOrCreate),
		hostPath("registration-dir", filepath.Join(kubeletDir, "plugins_registry"), corev1.HostPathDirectory),
		hostPath("kubelet-dir", kubeletDir, corev1.HostPathDirectory),
		hostPath("state-dir", "/var/lib/backuppvc-csi", corev1.HostPathDirectoryOrCreate),
	}
	if p.Local != nil {
		for _, d := range p.Local.ExtraDrivers {
			short := strings.SplitN(d, ".", 2)[0]
			mount := corev1.VolumeMount{Name: "socket-" + short, MountPath: "/csi-" + short}
			addr := "--csi-address=/csi-" + short + "/csi.sock"
			containers = append(containers,
				corev1.Container{Name: "csi-emulator-" + short, Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
					Command: append([]string{"/usr/local/bin/csi-emulator"},
						args(profile.Placeholders{Endpoint: "unix:///csi-" + short + "/csi.sock", Driver: d, StateDir: "/var/lib/backuppvc-csi/" + d})...),
					VolumeMounts: []corev1.VolumeMount{mount, {Name: "state-dir", MountPath: "/var/lib/backuppvc-csi"}}},
				sidecar("csi-provisioner-"+short, "csi-provisioner", append([]string{addr}, lane.ProvisionerFlags...), mount))
			volumes = append(volumes, corev1.Volume{Name: "socket-" + short, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		}
	}
	selector := map[string]string{"app.kubernetes.io/name": "csi-emulator"}
	podLabels := managed()
	podLabels["app.kubernetes.io/name"] = "csi-emulator"
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "csi-emulator", Namespace: DriverNamespace, Labels: managed()},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{ServiceAccountName: driverAccount, Containers: containers, Volumes: volumes,
					Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
			},
		},
	}
	return []client.Object{ns, sa, ds}
}
