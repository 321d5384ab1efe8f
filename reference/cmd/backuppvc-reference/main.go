// Command backuppvc-reference runs the reference implementation of Velero's data-mover backup path
// as far as the backupPVC touches it, and lints node-agent ConfigMaps.
//
//	backuppvc-reference run  [--kubeconfig F] [--namespace velero] [--node-agent-configmap N] ...
//	backuppvc-reference lint [-f FILE|-] [-o text|json]
package main

import (
	"os"

	"github.com/backuppvc-conformance/harness/reference/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
