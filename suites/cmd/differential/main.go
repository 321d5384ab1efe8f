// Command differential writes the differential conformance table of several systems under test
// from their runs' results.json files (make e2e SUT=reference,velero runs it).
//
//	differential -o artifacts/differential.md artifacts/reference/results.json artifacts/velero/results.json
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/backuppvc-conformance/harness/suites/report"
)

func main() {
	out := flag.String("o", "-", "where to write the Markdown table (- for standard output)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: differential [-o FILE] RESULTS.json RESULTS.json...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 2 {
		flag.Usage()
		os.Exit(2)
	}
	var runs []report.Results
	for _, path := range flag.Args() {
		r, err := report.ReadResults(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "differential:", err)
			os.Exit(1)
		}
		runs = append(runs, r)
	}
	w := os.Stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "differential:", err)
			os.Exit(1)
		}
		defer f.Close()
		w = f
	}
	if err := report.WriteDifferential(w, runs); err != nil {
		fmt.Fprintln(os.Stderr, "differential:", err)
		os.Exit(1)
	}
}
