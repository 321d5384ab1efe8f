// Command backuppvc-datamover is /velero in the reference's backupPod image on lanes with a real
// kubelet (see package datamover): "data-mover backup ..." as Velero's backupPod runs it, and
// "fill ..." for the suites to put known data into a source volume. It writes its report to the
// termination message file and to stdout, and exits non-zero when the volume could not be used.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/backuppvc-conformance/harness/reference/datamover"
)

// terminationLog is the kubelet's default terminationMessagePath.
const terminationLog = "/dev/termination-log"

func main() {
	run := datamover.Run
	if len(os.Args) > 1 && os.Args[1] == "fill" {
		run = func(args []string) (*datamover.Report, error) { return datamover.Fill(args[1:]) }
	}
	r, err := run(os.Args[1:])
	if r != nil {
		data, _ := json.Marshal(r)
		fmt.Println(string(data))
		if werr := os.WriteFile(terminationLog, data, 0o644); werr != nil {
			fmt.Fprintln(os.Stderr, "datamover: termination message:", werr)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
