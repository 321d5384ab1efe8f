// Command backuppvc-datamover is /velero in the reference's backupPod image on lanes with a real
// kubelet (see package datamover). It writes its report to the termination message file and to
// stdout, and exits non-zero when the volume could not be read.
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
	r, err := datamover.Run(os.Args[1:])
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
