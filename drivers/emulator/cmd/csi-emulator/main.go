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
	registrationSocket := flag.String("registration-socket", "", "register with the kubelet through this socket in its plugins_registry folder (e.g. /registration/<driver>-reg.sock)")
	kubeletEndpoint := flag.String("kubelet-registration-path", "", "the driver's socket as the kubelet sees it (e.g. /var/lib/kubelet/plugins/<driver>/csi.sock)")
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
	if (*registrationSocket == "") != (*kubeletEndpoint == "") {
		fmt.Fprintln(os.Stderr, "csi-emulator: --registration-socket and --kubelet-registration-path go together")
		os.Exit(2)
	}
	errc := make(chan error, 2)
	go func() { errc <- emulator.Serve(ctx, d, *endpoint, *statusAddr) }()
	if *registrationSocket != "" {
		reg := &emulator.Registration{Socket: *registrationSocket, DriverName: *name, Endpoint: *kubeletEndpoint, Log: log}
		go func() { errc <- reg.Serve(ctx) }()
	}
	// The first to end decides: a refused registration or a dead CSI server ends the process.
	if err := <-errc; err != nil {
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
