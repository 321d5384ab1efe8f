package doctor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Labels and annotations on everything the probe creates.
const (
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	ManagedByDoctor = "backuppvc-doctor"
	// LabelRun carries the run's identifier: kubectl delete namespace -l doctor.backuppvc.io/run=<run>
	// removes what a killed run left.
	LabelRun = "doctor.backuppvc.io/run"
	// AnnotationEntry, on a probe's namespace, names the entry (source class) it probes.
	AnnotationEntry = "doctor.backuppvc.io/entry"
	// AnnotationSelectedNode is what the scheduler sets on a WaitForFirstConsumer PVC; the probe,
	// which runs no pod, sets it itself.
	AnnotationSelectedNode = "volume.kubernetes.io/selected-node"

	sourcePVCName = "source"
	snapshotName  = "snapshot"
	backupPVCName = "backuppvc"
	// refusalRepeats: a refusal the provisioner repeated this often is taken as final (a backup
	// would see it repeated until the prepare timeout).
	refusalRepeats = 3
	// infeasiblePrefix starts the event sig-storage-lib-external-provisioner (csi-provisioner v6)
	// records when the driver answers InvalidArgument: it calls the request infeasible itself and
	// retries only after a long delay, so one such event is a final refusal.
	infeasiblePrefix = "Volume provisioning failed with infeasible error."
)

// Probe outcomes.
const (
	OutcomeBound   = "bound"
	OutcomeRefused = "refused"
	// OutcomeRejected: the API server (a quota, an admission webhook) rejected the backupPVC.
	OutcomeRejected       = "rejected"
	OutcomeNotBound       = "notBound"
	OutcomeSnapshotFailed = "snapshotFailed"
	OutcomeSourceNotBound = "sourceNotBound"
	OutcomeSkipped        = "skipped"
	OutcomeInterrupted    = "interrupted"
	OutcomeError          = "error"
)

// Probe is what trying one entry showed.
type Probe struct {
	Namespace     string `json:"namespace,omitempty"`
	Outcome       string `json:"outcome"`
	Message       string `json:"message"`
	SnapshotClass string `json:"snapshotClass,omitempty"`
	// Node is the node the probe's PVCs were provisioned for (WaitForFirstConsumer classes only).
	Node           string           `json:"node,omitempty"`
	SourceBound    *metav1.Duration `json:"sourceBound,omitempty"`
	SnapshotReady  *metav1.Duration `json:"snapshotReady,omitempty"`
	BackupPVCBound *metav1.Duration `json:"backupPVCBound,omitempty"`
	// Waited is how long the probe waited for the backupPVC to bind.
	Waited *metav1.Duration `json:"waited,omitempty"`
	// Refusal is the provisioner's (or the API server's) own words refusing the backupPVC.
	Refusal string `json:"refusal,omitempty"`
	// Warnings are the warning events of the object that did not become ready.
	Warnings []string `json:"warnings,omitempty"`
}

type prober struct {
	c      client.Client
	o      *Options
	d      Discovery
	run    string
	labels map[string]string

	mu    sync.Mutex
	nodes map[string]string // driver -> node, for WaitForFirstConsumer classes
}

func (p *prober) say(format string, args ...any) { p.o.Progress.Printf(format, args...) }

// probeAll probes the entries at the given indexes, each in a namespace of its own, a few at a
// time, then removes everything it created, also when ctx is cancelled.
func (p *prober) probeAll(ctx context.Context, r *Report, which []int) {
	start := time.Now()
	pr := &ProbeRun{Run: p.run, Selector: LabelRun + "=" + p.run, Timeout: dur(p.o.ProbeTimeout), Namespaces: []string{}, Left: []string{}}
	r.ProbeRun = pr
	namespaces := make([]string, len(which))
	for i, idx := range which {
		namespaces[i] = fmt.Sprintf("backuppvc-doctor-%s-%d", p.run, idx)
	}
	pr.Namespaces = namespaces
	p.say("probing %d entr%s in namespaces backuppvc-doctor-%s-* (label %s), waiting up to %s for each backupPVC",
		len(which), plural(len(which), "y", "ies"), p.run, pr.Selector, p.o.ProbeTimeout)
	var wg sync.WaitGroup
	sem := make(chan struct{}, p.o.Parallel)
	for i, idx := range which {
		e := &r.Entries[idx]
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				e.Probe = &Probe{Namespace: namespaces[i], Outcome: OutcomeInterrupted, Message: "interrupted before the probe started"}
				return
			}
			e.Probe = p.probe(ctx, e, namespaces[i])
		}()
	}
	wg.Wait()
	pr.Took = dur(time.Since(start).Round(time.Millisecond))
	pr.Interrupted = ctx.Err() != nil
	if pr.Interrupted {
		p.say("interrupted: removing what the probe created")
	}

	// Cleanup runs to its end whatever happened to ctx.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.o.CleanupTimeout)
	defer cancel()
	cstart := time.Now()
	left := make([][]string, len(namespaces))
	for i, ns := range namespaces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			left[i] = p.cleanup(cctx, ns)
		}()
	}
	wg.Wait()
	for _, l := range left {
		pr.Left = append(pr.Left, l...)
	}
	pr.CleanupTook = dur(time.Since(cstart).Round(time.Millisecond))
	if len(pr.Left) == 0 {
		p.say("removed everything the probe created in %s", pr.CleanupTook.Duration)
	} else {
		p.say("could not remove %s within %s: delete them with kubectl delete namespace -l %s (and the PersistentVolumes and VolumeSnapshotContents named)",
			strings.Join(pr.Left, ", "), p.o.CleanupTimeout, pr.Selector)
		r.problem("the probe left %s (label %s)", strings.Join(pr.Left, ", "), pr.Selector)
	}
}

// probe tries one entry in namespace ns: a PVC of the source class, a VolumeSnapshot of it with
// the snapshot class Velero picks, then the backupPVC as Velero's exposer makes it (the entry's
// class, access mode and annotations, from the snapshot, its restore size), and waits for it to
// bind. It creates nothing once ctx is done.
func (p *prober) probe(ctx context.Context, e *Entry, ns string) *Probe {
	res := &Probe{Namespace: ns, SnapshotClass: e.SnapshotClass}
	tag := e.SourceClass + ": "
	step := "before it started"
	stop := func(outcome, format string, args ...any) *Probe {
		if ctx.Err() != nil && outcome != OutcomeBound {
			outcome, format, args = OutcomeInterrupted, "interrupted %s", []any{step}
		}
		res.Outcome, res.Message = outcome, fmt.Sprintf(format, args...)
		p.say("%s%s", tag, res.Message)
		return res
	}
	if ctx.Err() != nil {
		return stop(OutcomeInterrupted, "")
	}
	node := ""
	if e.wffc {
		n, err := p.node(ctx, e.Driver)
		if err != nil {
			return stop(OutcomeError, "a class binds WaitForFirstConsumer and no node to provision for was found: %v", err)
		}
		node, res.Node = n, n
		p.say("%sa class binds WaitForFirstConsumer: provisioning for node %s (as the scheduler would for a pod there)", tag, n)
	}
	step = "before it created the namespace"
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: p.labels, Annotations: map[string]string{AnnotationEntry: e.SourceClass}}}
	if err := p.create(ctx, nsObj); err != nil {
		return stop(OutcomeError, "cannot create namespace %s: %v", ns, err)
	}

	step = "before it created the source PVC"
	src := p.pvc(ns, sourcePVCName, e.SourceClass, corev1.ReadWriteOnce, p.o.ProbeSize, nil, nil, node)
	if err := p.create(ctx, src); err != nil {
		return stop(OutcomeError, "cannot create the source PVC: %v", err)
	}
	step = "while the source PVC was binding"
	t0 := time.Now()
	bound, _, err := p.waitBound(ctx, src, p.o.ProbeTimeout, false)
	if !bound {
		res.Warnings = p.warnings(ctx, ns, src.UID)
		return stop(OutcomeSourceNotBound, "a %s PVC of the source class %s did not bind within %s (%v)%s: the probe cannot go on",
			p.o.ProbeSize.String(), e.SourceClass, p.o.ProbeTimeout, errOr(err, "not bound"), lastWarning(res.Warnings))
	}
	res.SourceBound = durPtr(time.Since(t0))
	p.say("%ssource PVC bound in %s", tag, res.SourceBound.Duration)

	step = "before it created the VolumeSnapshot"
	vs := &snapshotv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: snapshotName, Labels: p.labels},
		Spec: snapshotv1.VolumeSnapshotSpec{VolumeSnapshotClassName: ptr.To(e.SnapshotClass),
			Source: snapshotv1.VolumeSnapshotSource{PersistentVolumeClaimName: ptr.To(sourcePVCName)}}}
	if err := p.create(ctx, vs); err != nil {
		return stop(OutcomeError, "cannot create the VolumeSnapshot: %v", err)
	}
	step = "while the VolumeSnapshot was becoming ready"
	t0 = time.Now()
	var snapErr string
	err = wait.PollUntilContextTimeout(ctx, p.o.Poll, p.o.ProbeTimeout, true, func(ctx context.Context) (bool, error) {
		if err := p.c.Get(ctx, client.ObjectKeyFromObject(vs), vs); err != nil {
			return false, nil
		}
		if st := vs.Status; st != nil {
			if st.Error != nil && st.Error.Message != nil && *st.Error.Message != "" {
				snapErr = *st.Error.Message
			}
			return st.ReadyToUse != nil && *st.ReadyToUse, nil
		}
		return false, nil
	})
	if err != nil {
		res.Warnings = p.warnings(ctx, ns, vs.UID)
		if snapErr != "" {
			res.Refusal = snapErr
			return stop(OutcomeSnapshotFailed, "the VolumeSnapshot (class %s) was not ready within %s: %s", e.SnapshotClass, p.o.ProbeTimeout, snapErr)
		}
		// Slow, not failed: Velero would wait longer (its CSI snapshot timeout, 10m by default).
		return stop(OutcomeError, "the VolumeSnapshot (class %s) was not ready within %s and reports no error%s", e.SnapshotClass, p.o.ProbeTimeout, lastWarning(res.Warnings))
	}
	res.SnapshotReady = durPtr(time.Since(t0))
	p.say("%sVolumeSnapshot ready in %s (class %s)", tag, res.SnapshotReady.Duration, e.SnapshotClass)

	size := p.o.ProbeSize // spec B7: the snapshot's restore size when set, else the source's request
	if vs.Status.RestoreSize != nil && !vs.Status.RestoreSize.IsZero() {
		size = *vs.Status.RestoreSize
	}
	from := &corev1.TypedLocalObjectReference{APIGroup: ptr.To(snapshotv1.SchemeGroupVersion.Group), Kind: "VolumeSnapshot", Name: snapshotName}
	step = "before it created the backupPVC"
	bpvc := p.pvc(ns, backupPVCName, e.BackupPVCClass, e.AccessMode, size, from, e.annotations, node)
	if err := p.create(ctx, bpvc); err != nil {
		if ctx.Err() == nil {
			res.Refusal = err.Error()
			return stop(OutcomeRejected, "the API server rejected the backupPVC (%s, class %s): %v", e.AccessMode, e.BackupPVCClass, err)
		}
		return stop(OutcomeError, "cannot create the backupPVC: %v", err)
	}
	step = "while the backupPVC was binding"
	limit := min(p.o.ProbeTimeout, p.d.PrepareTimeout.Duration)
	t0 = time.Now()
	bound, refusal, err := p.waitBound(ctx, bpvc, limit, true)
	res.Waited = durPtr(time.Since(t0))
	res.Warnings = p.warnings(ctx, ns, bpvc.UID)
	switch {
	case bound:
		res.BackupPVCBound = res.Waited
		return stop(OutcomeBound, "backupPVC (%s, class %s) bound in %s", e.AccessMode, e.BackupPVCClass, res.BackupPVCBound.Duration)
	case refusal != "":
		res.Refusal = refusal
		how := fmt.Sprintf("refused %d times", refusalRepeats)
		if strings.Contains(refusal, infeasiblePrefix) {
			how = "refused as infeasible"
		}
		return stop(OutcomeRefused, "backupPVC (%s, class %s) %s in %s: %s", e.AccessMode, e.BackupPVCClass, how, res.Waited.Duration, refusal)
	case ctx.Err() != nil:
		return stop(OutcomeInterrupted, "")
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !wait.Interrupted(err) {
		return stop(OutcomeError, "while waiting for the backupPVC: %v", err)
	}
	within := fmt.Sprintf("within %s", limit)
	if limit == p.d.PrepareTimeout.Duration {
		within = fmt.Sprintf("within the prepare timeout (%s): Velero fails the DataUpload then", limit)
	}
	if len(res.Warnings) > 0 {
		res.Refusal = res.Warnings[len(res.Warnings)-1]
	}
	return stop(OutcomeNotBound, "backupPVC (%s, class %s) not bound %s%s", e.AccessMode, e.BackupPVCClass, within, lastWarning(res.Warnings))
}

func errOr(err error, s string) string {
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err.Error()
	}
	return s
}

func lastWarning(ws []string) string {
	if len(ws) == 0 {
		return "; no warning event says why"
	}
	return "; last warning: " + ws[len(ws)-1]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (p *prober) pvc(ns, name, class string, mode corev1.PersistentVolumeAccessMode, size resource.Quantity, from *corev1.TypedLocalObjectReference, annotations map[string]string, node string) *corev1.PersistentVolumeClaim {
	ann := maps.Clone(annotations)
	if node != "" {
		if ann == nil {
			ann = map[string]string{}
		}
		ann[AnnotationSelectedNode] = node
	}
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: p.labels, Annotations: ann},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{mode},
			StorageClassName: ptr.To(class),
			VolumeMode:       ptr.To(corev1.PersistentVolumeFilesystem),
			DataSource:       from,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
}

// create creates obj unless ctx is done. The request itself is not cancelled with ctx, so that a
// create the API server carried out is never one the doctor does not know of (cleanup finds the
// objects by namespace and label anyway).
func (p *prober) create(ctx context.Context, obj client.Object) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return p.c.Create(cctx, obj)
}

// waitBound waits up to timeout for pvc to bind. With watchRefusal it stops early once the
// PVC's warning events add up to refusalRepeats, or one says the provisioner finds the request
// infeasible, returning the latest one's words.
func (p *prober) waitBound(ctx context.Context, pvc *corev1.PersistentVolumeClaim, timeout time.Duration, watchRefusal bool) (bool, string, error) {
	refusal := ""
	err := wait.PollUntilContextTimeout(ctx, p.o.Poll, timeout, true, func(ctx context.Context) (bool, error) {
		got := &corev1.PersistentVolumeClaim{}
		if err := p.c.Get(ctx, client.ObjectKeyFromObject(pvc), got); err == nil && got.Status.Phase == corev1.ClaimBound {
			return true, nil
		}
		if watchRefusal {
			if n, last, final := p.warningCount(ctx, pvc.Namespace, pvc.UID); n >= refusalRepeats || final {
				refusal = last
				return true, nil
			}
		}
		return false, nil
	})
	if refusal != "" {
		return false, refusal, nil
	}
	return err == nil, "", err
}

// events are the events about the object uid in ns, oldest first.
func (p *prober) events(ctx context.Context, ns string, uid any) []corev1.Event {
	list := &corev1.EventList{}
	if err := p.c.List(context.WithoutCancel(ctx), list, client.InNamespace(ns)); err != nil {
		return nil
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if string(e.InvolvedObject.UID) == fmt.Sprint(uid) && e.Type == corev1.EventTypeWarning {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return eventTime(out[i]).Before(eventTime(out[j])) })
	return out
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

func eventCount(e corev1.Event) int {
	n := int(e.Count)
	if e.Series != nil && int(e.Series.Count) > n {
		n = int(e.Series.Count)
	}
	return max(n, 1)
}

// warnings are the object's warning events as "Reason: message (xN)".
func (p *prober) warnings(ctx context.Context, ns string, uid any) []string {
	var out []string
	for _, e := range p.events(ctx, ns, uid) {
		s := e.Reason + ": " + e.Message
		if n := eventCount(e); n > 1 {
			s += fmt.Sprintf(" (x%d)", n)
		}
		out = append(out, s)
	}
	return out
}

// warningCount adds up the object's warning events (repeats included) and returns the latest
// one's reason and message, and whether one is the provisioner's infeasible (final) refusal.
func (p *prober) warningCount(ctx context.Context, ns string, uid any) (int, string, bool) {
	evs := p.events(ctx, ns, uid)
	n, final := 0, false
	for _, e := range evs {
		n += eventCount(e)
		final = final || strings.HasPrefix(e.Message, infeasiblePrefix)
	}
	if len(evs) == 0 {
		return 0, "", false
	}
	last := evs[len(evs)-1]
	return n, last.Reason + ": " + last.Message, final
}

// node picks the node a WaitForFirstConsumer PVC of driver is provisioned for: the first (by
// name) whose CSINode lists the driver, else the first schedulable Ready node.
func (p *prober) node(ctx context.Context, driver string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n, ok := p.nodes[driver]; ok {
		return n, nil
	}
	csiNodes := &storagev1.CSINodeList{}
	if err := p.c.List(ctx, csiNodes); err != nil {
		return "", fmt.Errorf("list CSINodes: %w", err)
	}
	slices.SortFunc(csiNodes.Items, func(a, b storagev1.CSINode) int { return strings.Compare(a.Name, b.Name) })
	for _, cn := range csiNodes.Items {
		for _, d := range cn.Spec.Drivers {
			if d.Name == driver {
				p.nodes[driver] = cn.Name
				return cn.Name, nil
			}
		}
	}
	nodes := &corev1.NodeList{}
	if err := p.c.List(ctx, nodes); err != nil {
		return "", fmt.Errorf("list nodes: %w", err)
	}
	slices.SortFunc(nodes.Items, func(a, b corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	for _, n := range nodes.Items {
		if n.Spec.Unschedulable {
			continue
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				p.nodes[driver] = n.Name
				return n.Name, nil
			}
		}
	}
	return "", fmt.Errorf("no CSINode lists driver %s and no node is Ready and schedulable", driver)
}

// probeVerdict turns a probe's outcome into the entry's verdict: a conclusive probe decides; an
// inconclusive one leaves the static verdict, or makes it unknown.
func probeVerdict(e *Entry, d Discovery) {
	pr := e.Probe
	st := map[string]Status{OutcomeBound: StatusOK, OutcomeRefused: StatusFail, OutcomeNotBound: StatusFail, OutcomeSnapshotFailed: StatusFail,
		OutcomeRejected: StatusFail, OutcomeSkipped: StatusSkipped}[pr.Outcome]
	if st == "" {
		st = StatusUnknown
	}
	e.Checks = append(e.Checks, Check{Name: CheckProbe, Status: st, Message: pr.Message})
	switch pr.Outcome {
	case OutcomeBound:
		e.Verdict = VerdictFine
		e.Summary = fmt.Sprintf("the backupPVC (%s, class %s) bound in %s, within the prepare timeout (%s)", e.AccessMode, e.BackupPVCClass, pr.BackupPVCBound.Duration, d.PrepareTimeout.Duration)
		if hasStatus(e, CheckReadOnly, StatusFail) {
			e.Summary += "; the profile says the class cannot do that: the profile may be wrong"
		}
	case OutcomeRefused:
		e.Verdict, e.Summary = VerdictStalls, stallSummary(e, d, "the probe's backupPVC was refused: "+pr.Refusal)
	case OutcomeNotBound:
		e.Verdict, e.Summary = VerdictStalls, stallSummary(e, d, "the probe's "+pr.Message)
	case OutcomeSnapshotFailed:
		e.Verdict, e.Summary = VerdictFails, failsSummary(e, "the probe's "+pr.Message+" (Velero waits for the snapshot, 10m by default, then fails the volume's backup)")
	case OutcomeRejected:
		e.Verdict = VerdictFails
		e.Summary = fmt.Sprintf("a backup of a PVC of class %s would end PartiallyFailed at once (DataUpload Failed: error exposing snapshot: ...): %s", e.SourceClass, pr.Message)
	case OutcomeSkipped:
	default:
		if e.Verdict == VerdictFine {
			e.Verdict, e.Summary = VerdictUnknown, "the probe could not tell: "+pr.Message
		}
	}
}
