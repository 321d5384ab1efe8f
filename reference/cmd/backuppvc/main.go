// Command backuppvc is for the people who run Velero: it lints a node-agent ConfigMap and checks a
// live cluster's backupPVC configuration.
//
//	backuppvc lint   [-f FILE|-] [-o text|json] [--fail-on error|warning] [FILE]
//	backuppvc doctor [--kubeconfig FILE] [-n velero] [--profile FILE] [--probe[=CLASS,...]] [--timeout 2m] [-o text|json]
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/backuppvc-conformance/harness/reference/cli"
	"github.com/backuppvc-conformance/harness/reference/doctor"
)

const usage = `usage: backuppvc <command> [flags]

commands:
  lint     lint a node-agent config (a JSON document or a ConfigMap in YAML/JSON), as Velero's node-agent reads it:
           backuppvc lint [flags] [FILE]   (FILE or -f FILE; - or none: standard input)
  doctor   check the backupPVC configuration of the Velero in a cluster, and with --probe try each entry:
           ` + doctor.Usage + `

"backuppvc <command> -h" lists a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "lint":
		return cli.Lint("backuppvc", args[1:], stdin, stdout, stderr)
	case "doctor":
		return doctor.Main(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "backuppvc: unknown command %q\n\n%s", args[0], usage)
	return 2
}
