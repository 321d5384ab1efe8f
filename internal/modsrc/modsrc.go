package modsrc

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

var (
	mu   sync.Mutex
	dirs = map[string]string{}
)

// Dir returns the module cache folder of a module required by go.mod, downloading it if needed.
func Dir(module string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if d, ok := dirs[module]; ok {
		return d, nil
	}
	cmd := exec.Command("go", "mod", "download", "-json", module)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("modsrc: go mod download %s: %v: %s", module, err, strings.TrimSpace(errOut.String()+out.String()))
	}
	for _, line := range strings.Split(out.String(), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, `"Dir":`) {
			d := strings.Trim(strings.TrimSuffix(strings.TrimPrefix(line, `"Dir":`), ","), ` "`)
			dirs[module] = d
			return d, nil
		}
	}
	return "", fmt.Errorf("modsrc: go mod download %s gave no folder", module)
}

// Velero and the snapshot client modules, as go.mod requires them.
const (
	VeleroModule         = "github.com/vmware-tanzu/velero"
	SnapshotClientModule = "github.com/kubernetes-csi/external-snapshotter/client/v8"
)

// CRDPaths lists the folders of the CRDs a cluster needs for the reference: the snapshot API
// (external-snapshotter client/v8 config/crd) and Velero's (config/crd v1 and v2alpha1 bases).
func CRDPaths() ([]string, error) {
	velero, err := Dir(VeleroModule)
	if err != nil {
		return nil, err
	}
	snap, err := Dir(SnapshotClientModule)
	if err != nil {
		return nil, err
	}
	return []string{
		filepath.Join(snap, "config", "crd"),
		filepath.Join(velero, "config", "crd", "v1", "bases"),
		filepath.Join(velero, "config", "crd", "v2alpha1", "bases"),
	}, nil
}
