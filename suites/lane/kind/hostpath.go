package kind

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

// hostpathNamespace is where csi-driver-host-path's deploy script puts the driver.
const hostpathNamespace = "default"

// deployHostpath runs hack/kind/hostpath.sh: snapshot-controller from the external-snapshotter
// module's manifests and csi-driver-host-path from its pinned release's deploy script. Both pull
// their images, so this needs a registry (the upstream image source).
func (l *Lane) deployHostpath(ctx context.Context) error {
	if l.source != ImagesUpstream {
		return fmt.Errorf("kind lane: csi-driver-host-path pulls its images from registry.k8s.io and no registry is reachable; use DRIVER=emulator offline")
	}
	logPath := filepath.Join(l.opts.ArtifactsDir, "kind-hostpath-deploy.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, filepath.Join(toolchain.RepoRoot(), "hack", "kind", "hostpath.sh"))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+l.kubeconf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kind lane: hack/kind/hostpath.sh: %w; its log %s ends:\n%s", err, logPath, tail(logPath, 15))
	}
	return nil
}
