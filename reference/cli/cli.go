package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/backuppvc-conformance/harness/reference/config"
	"github.com/backuppvc-conformance/harness/reference/server"
)

const usage = `usage: backuppvc-reference <command> [flags]

commands:
  run    run the reference DataUpload and Backup controllers against a cluster
  lint   lint a node-agent config (a JSON document or a ConfigMap in YAML/JSON):
         backuppvc-reference lint [flags] [FILE]   (FILE or -f FILE; - or none: standard input)

"backuppvc-reference <command> -h" lists a command's flags.
`

// Main runs the command line and returns the exit code: 0 success, 1 failure (or lint errors),
// 2 bad usage.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return run(args[1:], stderr)
	case "lint":
		return lint(args[1:], stdin, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "backuppvc-reference: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func run(args []string, stderr io.Writer) int {
	o := server.DefaultOptions()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file; empty: in-cluster config")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "the Velero namespace")
	fs.StringVar(&o.NodeAgentConfigMap, "node-agent-configmap", "", "node-agent ConfigMap in the Velero namespace (read once at start)")
	fs.DurationVar(&o.PrepareTimeout, "data-mover-prepare-timeout", o.PrepareTimeout, "how long a DataUpload may stay Accepted before it fails")
	fs.DurationVar(&o.PrepareCheckInterval, "prepare-check-interval", o.PrepareCheckInterval, "how often an Accepted DataUpload is checked")
	fs.StringVar(&o.Image, "backup-pod-image", o.Image, "image of the backupPod (its /velero runs the data path)")
	command := fs.String("backup-pod-command", "", "override the backupPod command (space separated)")
	fs.IntVar(&o.Workers, "workers", o.Workers, "DataUploads and Backups reconciled at once")
	fs.StringVar(&o.NodeName, "node-name", envOr("NODE_NAME", o.NodeName), "recorded as the DataUpload's acceptedByNode")
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", o.MetricsAddr, `controller metrics address ("0" disables)`)
	logFormat := fs.String("log-format", "json", "json or text")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "backuppvc-reference run: unexpected argument %q: run takes flags only (see run -h)\n", rest[0])
		return 2
	}
	if *command != "" {
		o.Command = strings.Fields(*command)
	}
	log, err := newLogger(*logFormat, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "backuppvc-reference run: %v\n", err)
		return 2
	}
	o.Log = log
	ctrllog.SetLogger(log)
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintf(stderr, "backuppvc-reference run: kubeconfig %q: %v\n", *kubeconfig, err)
		return 1
	}
	cfg.QPS, cfg.Burst = 100, 200
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := server.Run(ctx, cfg, o); err != nil {
		log.Error(err, "exiting")
		fmt.Fprintf(stderr, "backuppvc-reference run: %v\n", err)
		return 1
	}
	return 0
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// newLogger returns a structured logger writing one line per entry.
func newLogger(format string, w io.Writer) (logr.Logger, error) {
	opts := funcr.Options{LogTimestamp: true, Verbosity: 0}
	switch format {
	case "json":
		return funcr.NewJSON(func(obj string) { fmt.Fprintln(w, obj) }, opts), nil
	case "text":
		return funcr.New(func(prefix, args string) { fmt.Fprintln(w, prefix, args) }, opts), nil
	}
	return logr.Logger{}, fmt.Errorf("unknown log format %q (json or text)", format)
}

// parseInterspersed parses flags wherever they stand among the arguments (as people type
// "lint FILE -o json"; Go's flag package stops at the first argument that is not a flag) and
// returns the other arguments in order. "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		remaining := fs.Args()
		if n := len(args) - len(remaining); n > 0 && args[n-1] == "--" {
			return append(rest, remaining...), nil
		}
		if len(remaining) == 0 {
			return rest, nil
		}
		rest, args = append(rest, remaining[0]), remaining[1:]
	}
}

func lint(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return Lint("backuppvc-reference", args, stdin, stdout, stderr)
}

// Lint is the lint subcommand for a program named prog (its messages and usage line name it):
// backuppvc-reference lint and backuppvc lint are this one function. It returns the exit code:
// 0 clean (or warnings only), 1 findings at --fail-on or worse or an unreadable file, 2 bad usage.
func Lint(prog string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "-", "file to lint: a node-agent config JSON document or a ConfigMap (YAML or JSON); - for stdin")
	output := fs.String("o", "text", "text or json")
	failOn := fs.String("fail-on", "error", "exit 1 on findings of this severity or worse: error or warning")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	switch {
	case len(rest) > 1:
		fmt.Fprintf(stderr, "%s lint: one file at a time, got %q\nusage: %s lint [flags] [FILE]\n", prog, rest, prog)
		return 2
	case len(rest) == 1 && *file != "-" && *file != rest[0]:
		fmt.Fprintf(stderr, "%s lint: two files, -f %s and %s: give one\nusage: %s lint [flags] [FILE]\n", prog, *file, rest[0], prog)
		return 2
	case len(rest) == 1:
		*file = rest[0]
	}
	if *output != "text" && *output != "json" {
		fmt.Fprintf(stderr, "%s lint: -o must be text or json, got %q\n", prog, *output)
		return 2
	}
	if *failOn != "error" && *failOn != "warning" {
		fmt.Fprintf(stderr, "%s lint: --fail-on must be error or warning, got %q\n", prog, *failOn)
		return 2
	}
	var data []byte
	if *file == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(*file)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s lint: %v\n", prog, err)
		return 1
	}
	findings := lintInput(data)
	if *output == "json" {
		if findings == nil {
			findings = []config.Finding{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(findings)
	} else {
		for _, f := range findings {
			fmt.Fprintln(stdout, f)
		}
		if len(findings) == 0 {
			fmt.Fprintln(stdout, "no findings")
		}
	}
	if config.HasErrors(findings) || (*failOn == "warning" && len(findings) > 0) {
		return 1
	}
	return 0
}

// lintInput lints a ConfigMap when the input is one (its kind says so, or, without a kind, it has
// metadata and data or binaryData), else the input as the JSON document.
func lintInput(data []byte) []config.Finding {
	var probe struct {
		Kind       string          `json:"kind"`
		Metadata   json.RawMessage `json:"metadata"`
		Data       json.RawMessage `json:"data"`
		BinaryData json.RawMessage `json:"binaryData"`
	}
	isConfigMap := yaml.Unmarshal(data, &probe) == nil &&
		(probe.Kind == "ConfigMap" || (probe.Kind == "" && probe.Metadata != nil && (probe.Data != nil || probe.BinaryData != nil)))
	if isConfigMap {
		cm := &corev1.ConfigMap{}
		if err := yaml.UnmarshalStrict(data, cm); err != nil {
			return []config.Finding{{Path: "ConfigMap", Severity: config.SeverityError, Message: "not a valid ConfigMap: " + err.Error()}}
		}
		return config.LintConfigMap(cm)
	}
	return config.Lint(data)
}
