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
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/lane/local"
)

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "up" && os.Args[1] != "down") {
		fmt.Fprintln(os.Stderr, "usage: lane up|down [--name N] [--driver PROFILE] [--artifacts DIR]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	name := fs.String("name", "backuppvc", "lane name (lanes with different names run side by side)")
	driver := fs.String("driver", "emulator", "driver profile: a folder under drivers/ or a profile.yaml path")
	artifacts := fs.String("artifacts", filepath.Join(toolchain.RepoRoot(), "artifacts"), "where component logs go")
	_ = fs.Parse(os.Args[2:])
	log := funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, "lane:", args) }, funcr.Options{})
	// client-go and controller-runtime log through klog and a global logger: keep them quiet.
	klog.SetLogger(logr.Discard())
	ctrllog.SetLogger(logr.Discard())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Args[1] == "down" {
		if err := local.Down(ctx, *name, log); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	p, err := profile.Find(toolchain.RepoRoot(), *driver)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	l, err := local.Up(ctx, local.Options{Name: *name, Profile: p, ArtifactsDir: *artifacts, Log: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("lane %s is up; logs in %s\nexport KUBECONFIG=%s\n", l.Name(), l.LogDir(), l.Kubeconfig())
}
