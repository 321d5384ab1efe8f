package doctor

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/kubescheme"
)

// Usage is the doctor's usage line.
const Usage = "usage: backuppvc doctor [--kubeconfig FILE] [--context NAME] [-n NAMESPACE] [--profile FILE] [--probe[=SOURCECLASS,...]] [--timeout 2m] [-o text|json]"

const prog = "backuppvc doctor"

// probeFlag is --probe (every entry) or --probe=a,b (those entries).
type probeFlag struct {
	on      bool
	entries []string
}

func (f *probeFlag) String() string   { return strings.Join(f.entries, ",") }
func (f *probeFlag) IsBoolFlag() bool { return true }
func (f *probeFlag) Set(v string) error {
	switch v {
	case "true":
		f.on, f.entries = true, nil
	case "false":
		f.on, f.entries = false, nil
	case "":
		return fmt.Errorf("name the entries: --probe=SOURCECLASS,... (or --probe for all)")
	default:
		f.on = true
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				f.entries = append(f.entries, e)
			}
		}
	}
	return nil
}

// optionalString is a string flag that knows whether it was given.
type optionalString struct{ v *string }

func (f *optionalString) String() string {
	if f.v == nil {
		return ""
	}
	return *f.v
}
func (f *optionalString) Set(v string) error { f.v = &v; return nil }

// Main is backuppvc doctor: args are its flags. It returns the exit code (ExitFine, ExitStall,
// ExitUnchecked; 2 also for bad usage). Ctrl-C (or SIGTERM) stops the probe and removes what it
// created; a second one abandons the removal.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills the process
	}()
	return run(ctx, args, stdout, stderr, nil)
}

// run is Main with its context; cfgFor, when set, replaces reading the kubeconfig (tests).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, cfgFor func() (*rest.Config, error)) int {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed below, prefixed; -h prints the whole help
	fs.Usage = func() {}
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig `FILE` (default: $KUBECONFIG, then ~/.kube/config)")
	kubeContext := fs.String("context", "", "kubeconfig context (default: the current one)")
	o := Options{}
	fs.StringVar(&o.Namespace, "namespace", "velero", "the Velero namespace")
	fs.StringVar(&o.Namespace, "n", "velero", "the Velero namespace (short for --namespace)")
	cm := &optionalString{}
	fs.Var(cm, "node-agent-configmap", "check ConfigMap `NAME` instead of the one the node-agent DaemonSet names (when the node-agents run otherwise)")
	fs.DurationVar(&o.PrepareTimeout, "data-mover-prepare-timeout", 0, "the prepare timeout, instead of the node-agent DaemonSet's")
	profilePath := fs.String("profile", "", "driver profile `FILE` (drivers/<name>/profile.yaml): which classes can make ReadOnlyMany from a snapshot")
	probe := &probeFlag{}
	fs.Var(probe, "probe", "try each entry (or --probe=SOURCECLASS,... those) in a namespace of its own: PVC, snapshot, backupPVC from it")
	fs.DurationVar(&o.ProbeTimeout, "timeout", 2*time.Minute, "how long the probe waits for each step (the backupPVC binding: never longer than the prepare timeout)")
	size := fs.String("probe-size", "1Gi", "`SIZE` of the probe's source PVC")
	output := fs.String("o", "text", "output: text or json")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprintf(stdout, "%s\n\nChecks the backupPVC configuration of the Velero in a cluster: the node-agent's ConfigMap and prepare timeout, each\n"+
				"entry against the cluster's storage classes and snapshot classes and, with --probe, by really provisioning a backupPVC\n"+
				"from a snapshot. Exit 0: no entry will stall; 1: an entry will stall or be refused; 2: something could not be checked.\n\nflags:\n", Usage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "%s: %v\n%s\n", prog, err, Usage)
		return ExitUnchecked
	}
	if fs.NArg() > 0 {
		hint := ""
		if probe.on {
			hint = fmt.Sprintf(" (to probe named entries write --probe=%s)", strings.Join(fs.Args(), ","))
		}
		fmt.Fprintf(stderr, "%s: unexpected argument %q%s\n%s\n", prog, fs.Arg(0), hint, Usage)
		return ExitUnchecked
	}
	if *output != "text" && *output != "json" {
		fmt.Fprintf(stderr, "%s: -o must be text or json, got %q\n", prog, *output)
		return ExitUnchecked
	}
	if o.ProbeTimeout <= 0 {
		fmt.Fprintf(stderr, "%s: --timeout must be positive, got %s\n", prog, o.ProbeTimeout)
		return ExitUnchecked
	}
	if o.PrepareTimeout < 0 {
		fmt.Fprintf(stderr, "%s: --data-mover-prepare-timeout must be positive, got %s\n", prog, o.PrepareTimeout)
		return ExitUnchecked
	}
	q, err := resource.ParseQuantity(*size)
	if err != nil || q.Sign() <= 0 {
		fmt.Fprintf(stderr, "%s: --probe-size %q is not a positive quantity such as 1Gi\n", prog, *size)
		return ExitUnchecked
	}
	o.ProbeSize, o.ConfigMap, o.Probe, o.ProbeEntries = q, cm.v, probe.on, probe.entries
	if o.Namespace == "" {
		fmt.Fprintf(stderr, "%s: --namespace must not be empty\n", prog)
		return ExitUnchecked
	}
	if *profilePath != "" {
		p, err := profile.Load(*profilePath)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", prog, err)
			return ExitUnchecked
		}
		o.Profile = p
	}
	if cfgFor == nil {
		cfgFor = func() (*rest.Config, error) { return restConfig(*kubeconfig, *kubeContext) }
	}
	cfg, err := cfgFor()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return ExitUnchecked
	}
	if err := answers(cfg); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return ExitUnchecked
	}
	ctrllog.SetLogger(logr.Discard()) // the client logs nothing the report does not say
	c, err := client.New(cfg, client.Options{Scheme: kubescheme.New()})
	if err != nil {
		fmt.Fprintf(stderr, "%s: client: %v\n", prog, err)
		return ExitUnchecked
	}
	var mu sync.Mutex
	start := time.Now()
	o.Progress = ProgressFunc(func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "%s: [%5.1fs] %s\n", prog, time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	})
	r := Run(ctx, c, o)
	if *output == "json" {
		err = WriteJSON(stdout, r)
	} else {
		err = WriteText(stdout, r)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: write the report: %v\n", prog, err)
		return ExitUnchecked
	}
	return r.ExitCode
}

// restConfig reads the kubeconfig as kubectl does: --kubeconfig, else $KUBECONFIG, else
// ~/.kube/config, else the in-cluster configuration.
func restConfig(path, kubeContext string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}

// answers asks the API server for its version, within 15 seconds.
func answers(cfg *rest.Config) error {
	quick := rest.CopyConfig(cfg)
	quick.Timeout = 15 * time.Second
	dc, err := discovery.NewDiscoveryClientForConfig(quick)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	if _, err := dc.ServerVersion(); err != nil {
		return fmt.Errorf("the API server at %s does not answer: %w", cfg.Host, err)
	}
	return nil
}
