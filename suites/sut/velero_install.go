package sut

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/internal/kubescheme"
)

// installArgs are velero install's flags for a run: the aws plugin against the in-cluster object
// store, no snapshot location (the CSI data mover needs none), the node-agent with the run's
// ConfigMap, and as many concurrent backups as on the local lane. The server's memory limit is
// raised from velero install's 512Mi: with ten backups at once (the scale spec) the kernel killed
// the server at 512Mi (OOMKilled, measured on the kind lane).
const veleroMemLimit = "2Gi"

func installArgs(cfg Config, im veleroImages, s3URL, credFile string) []string {
	args := []string{"install", "--namespace", cfg.Namespace, "--image", im.Velero, "--plugins", im.Plugin,
		"--provider", "aws", "--bucket", veleroBucket, "--secret-file", credFile,
		"--backup-location-config", fmt.Sprintf("region=%s,s3ForcePathStyle=true,s3Url=%s", s3Region, s3URL),
		"--use-volume-snapshots=false", "--use-node-agent", "--features=EnableCSI",
		"--concurrent-backups", strconv.Itoa(veleroConcurrentBackups), "--velero-pod-mem-limit", veleroMemLimit,
		"--dry-run", "-o", "json"}
	return append(args, configMapFlag(cfg)...)
}

// veleroInstall runs Velero's own velero install with --dry-run -o json and returns what it would
// create, less the CRDs (the lane installed those of the same version) and the namespace (the
// harness made it), each labelled as the harness's, with the flags velero install has none for:
// the node-agent's --data-mover-prepare-timeout (users edit the DaemonSet for it), and the
// server's item-operation sync every 2 s and no backup-sync, as on the local lane.
func veleroInstall(ctx context.Context, bin string, cfg Config, im veleroImages, s3URL, credFile string, credentials []byte) ([]client.Object, error) {
	if err := os.MkdirAll(tmpDir(cfg), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(credFile, credentials, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, installArgs(cfg, im, s3URL, credFile)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cfg.Kubeconfig, "TMPDIR="+tmpDir(cfg))
	var stderr []byte
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	if err != nil {
		return nil, fmt.Errorf("velero install --dry-run: %w: %s", err, stderr)
	}
	return installObjects(out, cfg)
}

// installObjects decodes velero install's JSON list into typed objects and adapts them.
func installObjects(data []byte, cfg Config) ([]client.Object, error) {
	var list unstructured.UnstructuredList
	if err := json.Unmarshal(data, &list.Object); err != nil {
		return nil, fmt.Errorf("velero install --dry-run -o json: %w", err)
	}
	items, _ := list.Object["items"].([]any)
	scheme := kubescheme.New()
	var out []client.Object
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("velero install: an item that is not an object: %v", it)
		}
		u := &unstructured.Unstructured{Object: m}
		switch u.GetKind() {
		case "CustomResourceDefinition", "Namespace":
			continue
		}
		typed, err := scheme.New(u.GroupVersionKind())
		if err != nil {
			return nil, fmt.Errorf("velero install: %s %s: %w", u.GetKind(), u.GetName(), err)
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, typed); err != nil {
			return nil, fmt.Errorf("velero install: %s %s: %w", u.GetKind(), u.GetName(), err)
		}
		obj := typed.(client.Object)
		obj.SetLabels(managed(obj.GetLabels()))
		switch o := obj.(type) {
		case *appsv1.Deployment:
			addArgs(&o.Spec.Template.Spec, "--item-operation-sync-frequency=2s", "--disable-controllers=backup-sync")
		case *appsv1.DaemonSet:
			addArgs(&o.Spec.Template.Spec, "--data-mover-prepare-timeout="+cfg.PrepareTimeout.String())
		}
		out = append(out, obj)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("velero install --dry-run printed no objects: %.200s", data)
	}
	return out, nil
}

func addArgs(spec *corev1.PodSpec, args ...string) {
	spec.Containers[0].Args = append(spec.Containers[0].Args, args...)
}
