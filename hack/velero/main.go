//go:build ignore

// Command velero is Velero's own command (github.com/vmware-tanzu/velero/cmd/velero) with one
// change made before it runs: controller-runtime's metrics server, which Velero's server and
// node-agent start on ":8080" (every interface) with no flag to move it, is switched off. Velero's
// own metrics and profiler listen where their flags say (the harness gives them 127.0.0.1).
//
// hack/tools.sh builds it in a module of its own under the cache (Velero's replace lines do not
// belong in ours); the build tag keeps it out of this repository's module.
package main

import (
	"os"
	"path/filepath"

	"github.com/vmware-tanzu/velero/pkg/cmd"
	"github.com/vmware-tanzu/velero/pkg/cmd/velero"
	"k8s.io/klog/v2"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

func main() {
	metricsserver.DefaultBindAddress = "0"
	defer klog.Flush()
	err := velero.NewCommand(filepath.Base(os.Args[0])).Execute()
	cmd.CheckError(err)
}
