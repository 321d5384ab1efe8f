package kind

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/backuppvc-conformance/harness/internal/kindscript"
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
	if _, err := kindscript.Run(ctx, filepath.Join(l.opts.ArtifactsDir, "kind-hostpath-deploy.log"), []string{"KUBECONFIG=" + l.kubeconf}, "hostpath.sh"); err != nil {
		return fmt.Errorf("kind lane: %w", err)
	}
	return nil
}
