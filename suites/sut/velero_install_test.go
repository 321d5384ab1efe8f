package sut

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// installOutput is the shape of velero install --dry-run -o json, cut down to one of each kind.
const installOutput = `{"apiVersion": "v1", "kind": "List", "items": [
 {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "backups.velero.io"}},
 {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}},
 {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cloud-credentials", "namespace": "ns", "labels": {"component": "velero"}}},
 {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "velero", "namespace": "ns"},
  "spec": {"selector": {"matchLabels": {"deploy": "velero"}}, "template": {"spec": {"containers": [{"name": "velero", "args": ["server", "--features=EnableCSI"]}]}}}},
 {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "node-agent", "namespace": "ns"},
  "spec": {"selector": {"matchLabels": {"name": "node-agent"}}, "template": {"spec": {"containers": [{"name": "node-agent", "args": ["node-agent", "server"]}]}}}}
]}`

func TestInstallObjects(t *testing.T) {
	objs, err := installObjects([]byte(installOutput), Config{Namespace: "ns", PrepareTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, reflect.TypeOf(o).Elem().Name())
		if o.GetLabels()["app.kubernetes.io/managed-by"] != "backuppvc-conformance" {
			t.Errorf("%s %s is not labelled as the harness's: %v", reflect.TypeOf(o).Elem().Name(), o.GetName(), o.GetLabels())
		}
	}
	if diff := cmp.Diff([]string{"Secret", "Deployment", "DaemonSet"}, kinds); diff != "" {
		t.Errorf("objects (-want +got), CRDs and the namespace left out:\n%s", diff)
	}
	if got := objs[0].GetLabels()["component"]; got != "velero" {
		t.Errorf("velero install's own label lost: %v", objs[0].GetLabels())
	}
	server := objs[1].(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Args
	if diff := cmp.Diff([]string{"server", "--features=EnableCSI", "--item-operation-sync-frequency=2s", "--disable-controllers=backup-sync"}, server); diff != "" {
		t.Errorf("server args (-want +got):\n%s", diff)
	}
	agent := objs[2].(*appsv1.DaemonSet).Spec.Template.Spec.Containers[0].Args
	if diff := cmp.Diff([]string{"node-agent", "server", "--data-mover-prepare-timeout=20s"}, agent); diff != "" {
		t.Errorf("node-agent args (-want +got):\n%s", diff)
	}
	if _, ok := objs[0].(*corev1.Secret); !ok {
		t.Errorf("first object %T, want the Secret", objs[0])
	}
	for _, bad := range []string{`{"items": []}`, `not json`, `{"items": [{"apiVersion": "x/v9", "kind": "Nope", "metadata": {"name": "n"}}]}`} {
		if _, err := installObjects([]byte(bad), Config{}); err == nil {
			t.Errorf("installObjects(%s) succeeded", bad)
		}
	}
}

func TestInstallArgsCarryTheRun(t *testing.T) {
	args := strings.Join(installArgs(Config{Namespace: "bpvc-velero-x", NodeAgentConfigMap: "cm"}, veleroImages{Velero: "v:1", Plugin: "p:1"}, "http://10.96.0.9:9000", "/w/cred"), " ")
	for _, want := range []string{"--namespace bpvc-velero-x", "--image v:1", "--plugins p:1", "--node-agent-configmap cm",
		"s3Url=http://10.96.0.9:9000", "--secret-file /w/cred", "--use-node-agent", "--dry-run -o json"} {
		if !strings.Contains(args, want) {
			t.Errorf("velero install args %q lack %q", args, want)
		}
	}
}

// A6: with no ConfigMap named, the node-agent gets no --node-agent-configmap at all.
func TestNoConfigMapNoFlag(t *testing.T) {
	args := strings.Join(installArgs(Config{Namespace: "bpvc-velero-x"}, veleroImages{Velero: "v:1", Plugin: "p:1"}, "http://10.96.0.9:9000", "/w/cred"), " ")
	if strings.Contains(args, "--node-agent-configmap") {
		t.Errorf("velero install args %q name a ConfigMap", args)
	}
	if got := configMapFlag(Config{NodeAgentConfigMap: "cm"}); strings.Join(got, " ") != "--node-agent-configmap cm" {
		t.Errorf("configMapFlag = %v", got)
	}
}
