package doctor

import (
	"context"
	"errors"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/reference/config"
)

const (
	// NodeAgentDaemonSet is the name of Velero's node-agent DaemonSet on Linux nodes
	// (pkg/nodeagent in Velero v1.18.3); its container is named the same.
	NodeAgentDaemonSet = "node-agent"
	// DefaultPrepareTimeout is the node-agent's --data-mover-prepare-timeout default.
	DefaultPrepareTimeout = 30 * time.Minute

	flagConfigMap      = "--node-agent-configmap"
	flagPrepareTimeout = "--data-mover-prepare-timeout"
)

// Where a setting came from.
const (
	FromDaemonSet = "daemonSet"
	FromFlag      = "flag"
	FromDefault   = "default"
	FromNone      = "none"
)

// Discovery is the configuration Velero's node-agent runs with, as the doctor found it.
type Discovery struct {
	// Namespace is the Velero namespace.
	Namespace string `json:"namespace"`
	// DaemonSet is namespace/name of the node-agent DaemonSet, empty when there is none.
	DaemonSet string `json:"daemonSet,omitempty"`
	Container string `json:"container,omitempty"`
	// ConfigMap is the node-agent ConfigMap's name, empty when the node-agent is given none.
	ConfigMap string `json:"configMap,omitempty"`
	// ConfigMapFrom is daemonSet (its --node-agent-configmap), flag (the doctor's) or none.
	ConfigMapFrom  string `json:"configMapFrom"`
	ConfigMapFound bool   `json:"configMapFound"`
	// PrepareTimeout is how long a DataUpload may stay Accepted.
	PrepareTimeout metav1.Duration `json:"prepareTimeout"`
	// PrepareTimeoutFrom is daemonSet, flag or default (Velero's 30m).
	PrepareTimeoutFrom string `json:"prepareTimeoutFrom"`
}

// errStop ends the run after discovery: what follows cannot be checked.
var errStop = errors.New("stop")

// discover finds the node-agent's configuration as Velero does and reads the ConfigMap. A
// problem that leaves nothing to check returns errStop, with the problem recorded in r.
func discover(ctx context.Context, c client.Reader, o *Options, r *Report) (*config.NodeAgentConfigs, error) {
	d := &r.Discovery
	d.Namespace = o.Namespace
	d.PrepareTimeout, d.PrepareTimeoutFrom = dur(DefaultPrepareTimeout), FromDefault
	d.ConfigMapFrom = FromNone

	ns := &corev1.Namespace{}
	switch err := c.Get(ctx, client.ObjectKey{Name: o.Namespace}, ns); {
	case apierrors.IsNotFound(err):
		r.problem("namespace %s does not exist: is Velero installed there? (give its namespace with --namespace)", o.Namespace)
		return nil, errStop
	case apierrors.IsForbidden(err):
		// A user without cluster-wide namespace access may still read the namespace's objects.
	case err != nil:
		r.problem("cannot read namespace %s: %v", o.Namespace, err)
		return nil, errStop
	}

	ds := &appsv1.DaemonSet{}
	err := c.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: NodeAgentDaemonSet}, ds)
	switch {
	case apierrors.IsNotFound(err):
		if o.ConfigMap == nil {
			r.problem("no DaemonSet %s in namespace %s: Velero says \"Velero node agent not found for linux nodes; pod volume backups/restores "+
				"and data mover backups/restores will not work until it's created\" (velero install --use-node-agent); if the node-agents run "+
				"otherwise, give their --node-agent-configmap and --data-mover-prepare-timeout to the doctor", NodeAgentDaemonSet, o.Namespace)
			return nil, errStop
		}
		r.note("no DaemonSet %s in namespace %s: data mover backups will not work until it is created; checking the configuration given by the doctor's flags",
			NodeAgentDaemonSet, o.Namespace)
	case err != nil:
		r.problem("cannot read DaemonSet %s/%s: %v", o.Namespace, NodeAgentDaemonSet, err)
		return nil, errStop
	default:
		d.DaemonSet = o.Namespace + "/" + NodeAgentDaemonSet
		ctr, ok := nodeAgentContainer(ds)
		if !ok {
			r.problem("DaemonSet %s has no containers", d.DaemonSet)
			return nil, errStop
		}
		d.Container = ctr.Name
		args := append(append([]string(nil), ctr.Command...), ctr.Args...)
		if v, ok := flagValue(args, flagConfigMap); ok && v != "" {
			d.ConfigMap, d.ConfigMapFrom = v, FromDaemonSet
		}
		if v, ok := flagValue(args, flagPrepareTimeout); ok {
			t, err := time.ParseDuration(v)
			if err != nil {
				r.problem("DaemonSet %s, container %s: %s %q is not a duration: the node-agent exits at start (invalid argument)", d.DaemonSet, ctr.Name, flagPrepareTimeout, v)
				return nil, errStop
			}
			d.PrepareTimeout, d.PrepareTimeoutFrom = dur(t), FromDaemonSet
		}
	}
	if o.ConfigMap != nil {
		if d.ConfigMapFrom == FromDaemonSet && d.ConfigMap != *o.ConfigMap {
			r.note("checking ConfigMap %q given to the doctor, not %q that DaemonSet %s gives the node-agent", *o.ConfigMap, d.ConfigMap, d.DaemonSet)
		}
		d.ConfigMap, d.ConfigMapFrom = *o.ConfigMap, FromFlag
		if d.ConfigMap == "" {
			d.ConfigMapFrom = FromNone
		}
	}
	if o.PrepareTimeout > 0 {
		d.PrepareTimeout, d.PrepareTimeoutFrom = dur(o.PrepareTimeout), FromFlag
	}

	if d.ConfigMap == "" {
		r.note("the node-agent is given no %s: it has no backupPVC configuration, so every backupPVC uses its source PVC's storage class and ReadWriteOnce (Velero's defaults, for every class)", flagConfigMap)
		return &config.NodeAgentConfigs{}, nil
	}
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: d.ConfigMap}, cm); err != nil {
		if !apierrors.IsNotFound(err) {
			r.problem("cannot read ConfigMap %s/%s: %v", o.Namespace, d.ConfigMap, err)
			return nil, errStop
		}
		_, lerr := config.Load(ctx, c, o.Namespace, d.ConfigMap)
		r.problem("ConfigMap %s/%s does not exist: Velero's node-agent exits at start: %s", o.Namespace, d.ConfigMap, veleroWords(lerr))
		return nil, errStop
	}
	d.ConfigMapFound = true
	r.Lint = config.LintConfigMap(cm)
	cfg, err := config.FromConfigMap(cm)
	if err != nil {
		r.problem("Velero's node-agent refuses ConfigMap %s/%s and exits at start: %s (the lint findings say where)", o.Namespace, d.ConfigMap, veleroWords(err))
		return nil, errStop
	}
	if len(cfg.BackupPVCConfig) == 0 {
		r.note("ConfigMap %s/%s has no backupPVC entries: every backupPVC uses its source PVC's storage class and ReadWriteOnce (Velero's defaults, for every class)", o.Namespace, d.ConfigMap)
	}
	return cfg, nil
}

// veleroWords is a reference/config refusal without its package prefix and sentinel: the words
// Velero's node-agent exits with, and the advice after them.
func veleroWords(err error) string {
	if err == nil {
		return ""
	}
	s := strings.TrimPrefix(err.Error(), "config: ")
	return strings.TrimSuffix(s, ": "+config.ErrInvalid.Error())
}

// nodeAgentContainer is the container named node-agent, else the first one running
// "node-agent server", else the first container.
func nodeAgentContainer(ds *appsv1.DaemonSet) (corev1.Container, bool) {
	cs := ds.Spec.Template.Spec.Containers
	if len(cs) == 0 {
		return corev1.Container{}, false
	}
	for _, c := range cs {
		if c.Name == NodeAgentDaemonSet {
			return c, true
		}
	}
	for _, c := range cs {
		if strings.Contains(strings.Join(append(append([]string(nil), c.Command...), c.Args...), " "), "node-agent server") {
			return c, true
		}
	}
	return cs[0], true
}

// flagValue finds a long flag's value in a command line as Velero's flag parser (pflag) reads
// it: --flag=value or --flag value, the last occurrence winning; "--" ends the flags.
func flagValue(args []string, flag string) (string, bool) {
	value, found := "", false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			value, found = v, true
		} else if a == flag && i+1 < len(args) {
			value, found = args[i+1], true
			i++
		}
	}
	return value, found
}
