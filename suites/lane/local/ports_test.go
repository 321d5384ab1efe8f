package local

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The options of a cluster's kwok.yaml as kwokctl v0.8 saves them, then a component of its own.
const savedKwokYAML = `apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1
  etcdPeerPort: 32766
  etcdPort: 32765
  kubeApiserverPort: 32764
  kubeApiserverInsecurePort: 0
  kwokControllerPort: 32763
  kubeControllerManagerPort: 32762
  kubeSchedulerPort: 32761
  securePort: true
  etcdPrefix: /registry
components:
- name: etcd
  ports:
  - port: 32765
---
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: node-initialize
spec:
  resourceRef: {kind: Node}
`

func TestKwokctlPorts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kwok.yaml")
	if err := os.WriteFile(path, []byte(savedKwokYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := kwokctlPorts(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{32761, 32762, 32763, 32764, 32765, 32766}; !slices.Equal(got, want) {
		t.Errorf("ports %v, want %v", got, want)
	}

	for name, content := range map[string]string{
		"no configuration":    "kind: Stage\n",
		"a port not a number": "kind: KwokctlConfiguration\noptions:\n  etcdPort: many\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := kwokctlPorts(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := kwokctlPorts(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file: no error")
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func portOf(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }

func TestWaitListening(t *testing.T) {
	ctx := context.Background()
	bound := listen(t)
	if err := waitListening(ctx, []int{portOf(bound)}, 5*time.Second); err != nil {
		t.Errorf("a bound port: %v", err)
	}

	// A port bound a moment after the wait begins, as kwok's controller's is after kwokctl returns.
	late := listen(t)
	port := portOf(late)
	late.Close()
	go func() {
		time.Sleep(300 * time.Millisecond)
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			t.Cleanup(func() { l.Close() })
		}
	}()
	if err := waitListening(ctx, []int{portOf(bound), port}, 5*time.Second); err != nil {
		t.Errorf("a port bound late: %v", err)
	}

	never := listen(t)
	nport := portOf(never)
	never.Close()
	err := waitListening(ctx, []int{portOf(bound), nport}, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "["+strconv.Itoa(nport)+"]") {
		t.Errorf("a port nothing listens on: %v, want an error naming only %d", err, nport)
	}
}
