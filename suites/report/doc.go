// Package report writes the Markdown certification report from Ginkgo's report: lane, driver,
// every component's version, each case with its verdict, duration and, on failure, the diagnosis,
// and where Velero's documentation and code disagree.
package report
