// Command csi-emulator runs the storage emulator CSI driver (see package emulator).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr/funcr"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/backuppvc-conformance/harness/drivers/emulator"
	"github.com/backuppvc-conformance/harness/internal/cmdline"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

const usage = "csi-emulator [--endpoint unix:///PATH] [--driver-name N] [--node-id ID] [--state-dir DIR] [--capacity Q] [flags]"

// options are csi-emulator's flags.
type options struct {
	endpoint, name, nodeID, stateDir, capacity, statusAddr string
	registrationSocket, kubeletEndpoint                    string
	verbose                                                int
	showVersion                                            bool
}

// parseArgs reads csi-emulator's command line; ok false means exit with code (its message written).
func parseArgs(args []string, stderr io.Writer) (o options, code int, ok bool) {
	fs := flag.NewFlagSet("csi-emulator", flag.ContinueOnError)
	fs.StringVar(&o.endpoint, "endpoint", "unix:///tmp/csi-emulator.sock", "CSI endpoint (unix socket)")
	fs.StringVar(&o.name, "driver-name", emulator.DefaultName, "CSI driver name")
	fs.StringVar(&o.nodeID, "node-id", envOr("NODE_NAME", "emulator-node"), "node ID reported by NodeGetInfo")
	fs.StringVar(&o.stateDir, "state-dir", "/var/lib/csi-emulator", "where volumes, snapshots and state.json live")
	fs.StringVar(&o.capacity, "capacity", "100Gi", "total capacity; each volume consumes size x replicas")
	fs.StringVar(&o.statusAddr, "status-address", "", "serve the capacity in use as JSON on this address (127.0.0.1:9808, or unix:///path)")
	fs.StringVar(&o.registrationSocket, "registration-socket", "", "register with the kubelet through this socket in its plugins_registry folder (e.g. /registration/<driver>-reg.sock)")
	fs.StringVar(&o.kubeletEndpoint, "kubelet-registration-path", "", "the driver's socket as the kubelet sees it (e.g. /var/lib/kubelet/plugins/<driver>/csi.sock)")
	fs.IntVar(&o.verbose, "v", 0, "log verbosity (1 logs every call)")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")
	code, ok = cmdline.Parse(fs, usage, args, stderr)
	return o, code, ok
}

func main() {
	o, code, ok := parseArgs(os.Args[1:], os.Stderr)
	if !ok {
		os.Exit(code)
	}
	if o.showVersion {
		fmt.Println("csi-emulator", version)
		return
	}
	q, err := resource.ParseQuantity(o.capacity)
	if err != nil {
		fmt.Fprintf(os.Stderr, "csi-emulator: --capacity %q: %v\n", o.capacity, err)
		os.Exit(2)
	}
	log := funcr.NewJSON(func(obj string) { fmt.Fprintln(os.Stderr, obj) }, funcr.Options{LogTimestamp: true, Verbosity: o.verbose})
	d, err := emulator.New(emulator.Options{Name: o.name, Version: version, NodeID: o.nodeID, StateDir: o.stateDir, CapacityBytes: q.Value(), Log: log})
	if err != nil {
		fmt.Fprintf(os.Stderr, "csi-emulator: %v\n", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if (o.registrationSocket == "") != (o.kubeletEndpoint == "") {
		fmt.Fprintln(os.Stderr, "csi-emulator: --registration-socket and --kubelet-registration-path go together")
		os.Exit(2)
	}
	errc := make(chan error, 2)
	go func() { errc <- emulator.Serve(ctx, d, o.endpoint, o.statusAddr) }()
	if o.registrationSocket != "" {
		reg := &emulator.Registration{Socket: o.registrationSocket, DriverName: o.name, Endpoint: o.kubeletEndpoint, Log: log}
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
