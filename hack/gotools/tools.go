//go:build tools

// Package gotools pins the Go command-line tools the Makefile runs with `go run` (the Ginkgo CLI),
// so their versions come from go.mod like every library's.
package gotools

import (
	_ "github.com/onsi/ginkgo/v2/ginkgo"
)
