// Command csi-emulator runs the storage emulator CSI driver (see package emulator).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr/funcr"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/backuppvc-conformance/harness/drivers/emulator"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	endpoint := flag.String("endpoint", "unix:///tmp/csi-emulator.sock", "CSI endpoint (unix socket)")
	name := flag.String("driver-name", emulator.DefaultName, "CSI driver name")
	nodeID := flag.String("node-id", envOr("NODE_NAME", "emulator-node"), "node ID reported by NodeGetInfo")
	stateDir := flag.String("state-dir", "/var/lib/csi-emulator", "where volumes, snapshots and state.json live")
	capacity := flag.String("capacity", "100Gi", "total capacity; each volume consumes size x replicas")
	statusAddr := flag.String("status-address", "", "serve the capacity in use as JSON on this address (127.0.0.1:9808, or unix:///path)")
	verbose := flag.Int("v", 0, "log verbosity (1 logs every call)")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("csi-emulator", version)
		return
	}
	q, err := resource.ParseQuantity(*capacity)
	if err != nil {
		fmt.Fprintf(os.Stderr, "csi-emulator: --capacity %q: %v\n", *capacity, err)
		os.Exit(2)
	}
	log := funcr.NewJSON(func(obj string) { fmt.Fprintln(os.Stderr, obj) }, funcr.Options{LogTimestamp: true, Verbosity: *verbose})
	d, err := emulator.New(emulator.Options{Name: *name, Version: version, NodeID: *nodeID, StateDir: *stateDir, CapacityBytes: q.Value(), Log: log})
	if err != nil {
		fmt.Fprintf(os.Stderr, "csi-emulator: %v\n", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := emulator.Serve(ctx, d, *endpoint, *statusAddr); err != nil {
		fmt.Fprintf(os.Stderr, "csi-emulator: %v\n", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
