// Command lane brings a test lane up or down for people (make cluster-up / cluster-down); the
// suites use the same packages directly.
//
//	lane up   [--name N] [--driver emulator] [--artifacts DIR]   prints the kubeconfig path
//	lane down [--name N]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/cmdline"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/lane/local"
)

const (
	usageUp   = "lane up [--name N] [--driver PROFILE] [--artifacts DIR]"
	usageDown = "lane down [--name N]"
)

// options are a command line's: its subcommand and flags.
type options struct {
	cmd, name, driver, artifacts string
}

// parseArgs reads lane's command line; ok false means exit with code (its message written).
func parseArgs(args []string, stderr io.Writer) (o options, code int, ok bool) {
	if len(args) == 0 || (args[0] != "up" && args[0] != "down") {
		fmt.Fprintf(stderr, "usage: %s\n       %s\n", usageUp, usageDown)
		return o, 2, false
	}
	o.cmd = args[0]
	fs := flag.NewFlagSet("lane "+o.cmd, flag.ContinueOnError)
	fs.StringVar(&o.name, "name", "backuppvc", "lane name (lanes with different names run side by side)")
	usage := usageDown
	if o.cmd == "up" {
		usage = usageUp
		fs.StringVar(&o.driver, "driver", "emulator", "driver profile: a folder under drivers/ or a profile.yaml path")
		fs.StringVar(&o.artifacts, "artifacts", filepath.Join(toolchain.RepoRoot(), "artifacts"), "where component logs go")
	}
	code, ok = cmdline.Parse(fs, usage, args[1:], stderr)
	return o, code, ok
}

func main() {
	o, code, ok := parseArgs(os.Args[1:], os.Stderr)
	if !ok {
		os.Exit(code)
	}
	log := funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, "lane:", args) }, funcr.Options{})
	// client-go and controller-runtime log through klog and a global logger: keep them quiet.
	klog.SetLogger(logr.Discard())
	ctrllog.SetLogger(logr.Discard())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.cmd == "down" {
		if err := local.Down(ctx, o.name, log); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	p, err := profile.Find(toolchain.RepoRoot(), o.driver)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	l, err := local.Up(ctx, local.Options{Name: o.name, Profile: p, ArtifactsDir: o.artifacts, Log: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("lane %s is up; logs in %s\nexport KUBECONFIG=%s\n", l.Name(), l.LogDir(), l.Kubeconfig())
}
