package existing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	authv1 "k8s.io/api/authorization/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/access"
	"github.com/backuppvc-conformance/harness/internal/snapclass"
)

// servedAPIs are the resources the suites and the systems under test use, by group version, with
// what to do when one is missing.
var servedAPIs = []struct {
	groupVersion string
	resources    []string
	fix          string
}{
	{"velero.io/v1", []string{"backups", "restores", "backupstoragelocations"}, "install Velero v1.18.3's CRDs (velero install --crds-only), or let the run install them and remove them after (make e2e INSTALL_CRDS=1)"},
	{"velero.io/v2alpha1", []string{"datauploads", "datadownloads"}, "install Velero v1.18.3's CRDs (velero install --crds-only), or let the run install them and remove them after (make e2e INSTALL_CRDS=1)"},
	{"snapshot.storage.k8s.io/v1", []string{"volumesnapshots", "volumesnapshotcontents", "volumesnapshotclasses"},
		"install the external-snapshotter v8 CRDs (or make e2e INSTALL_CRDS=1 for the run) and its snapshot-controller"},
}

// needed is what the harness and the system under test do in the cluster, checked with
// SelfSubjectAccessReviews before any spec (needsAccess adds what the profile's created classes
// need).
var needed = []authv1.ResourceAttributes{
	{Verb: "create", Resource: "namespaces"},
	{Verb: "delete", Resource: "namespaces"},
	{Verb: "create", Resource: "persistentvolumeclaims"},
	{Verb: "create", Resource: "pods"},
	{Verb: "create", Resource: "configmaps"},
	{Verb: "list", Resource: "persistentvolumes"},
	{Verb: "get", Group: "storage.k8s.io", Resource: "storageclasses"},
	{Verb: "create", Group: "snapshot.storage.k8s.io", Resource: "volumesnapshots"},
	{Verb: "list", Group: "snapshot.storage.k8s.io", Resource: "volumesnapshotcontents"},
	{Verb: "create", Group: "velero.io", Resource: "backups"},
	{Verb: "create", Group: "velero.io", Resource: "restores"},
	{Verb: "watch", Group: "velero.io", Resource: "datauploads"},
	// The end of a run: its DataUploads deleted, and released if the stopped system held any.
	{Verb: "delete", Group: "velero.io", Resource: "datauploads"},
	{Verb: "patch", Group: "velero.io", Resource: "datauploads"},
	// The Observer watches the copies of secrets and configmaps (B10).
	{Verb: "watch", Resource: "secrets"},
}

func needsAccess(p *profile.Profile) []authv1.ResourceAttributes {
	out := append([]authv1.ResourceAttributes(nil), needed...)
	for _, sc := range p.StorageClasses {
		if sc.Create {
			out = append(out, authv1.ResourceAttributes{Verb: "create", Group: "storage.k8s.io", Resource: "storageclasses"})
			break
		}
	}
	if p.SnapshotClass.Create {
		out = append(out, authv1.ResourceAttributes{Verb: "create", Group: "snapshot.storage.k8s.io", Resource: "volumesnapshotclasses"})
	}
	return out
}

// preflight checks, before any spec, what the suites need from a cluster they did not build. Every
// problem found is one line saying what to do; all of them are returned at once.
// snapshotWait bounds the wait for a snapshot controller's answer.
func preflight(ctx context.Context, dc discovery.DiscoveryInterface, c client.Client, p *profile.Profile, snapshotWait time.Duration) error {
	if _, err := dc.ServerVersion(); err != nil {
		return fmt.Errorf("existing lane: the API server does not answer: %w", err)
	}
	var problems []string
	missing := missingAPIs(dc)
	problems = append(problems, missing...)
	if !slices.ContainsFunc(missing, func(m string) bool { return strings.HasPrefix(m, snapshotv1.SchemeGroupVersion.String()+" ") }) {
		problems = append(problems, snapshotControllerProblems(ctx, c, p, snapshotWait)...)
	}
	problems = append(problems, classProblems(ctx, c, p)...)
	problems = append(problems, deniedAccess(ctx, c, needsAccess(p))...)
	if len(problems) == 0 {
		return nil
	}
	errs := make([]error, len(problems))
	for i, pr := range problems {
		errs[i] = errors.New("existing lane: " + pr)
	}
	return errors.Join(errs...)
}

func missingAPIs(dc discovery.DiscoveryInterface) []string {
	var out []string
	for _, api := range servedAPIs {
		list, err := dc.ServerResourcesForGroupVersion(api.groupVersion)
		served := map[string]bool{}
		if err == nil {
			for _, r := range list.APIResources {
				served[r.Name] = true
			}
		}
		var missing []string
		for _, r := range api.resources {
			if !served[r] {
				missing = append(missing, r)
			}
		}
		if len(missing) > 0 {
			out = append(out, fmt.Sprintf("%s %s not served: %s", api.groupVersion, strings.Join(missing, ", "), api.fix))
		}
	}
	return out
}

// classProblems: the classes the cluster's owner made (create: false) must have the profile's
// provisioner, and the snapshot class must be the driver's and carry what Velero selects it by.
func classProblems(ctx context.Context, c client.Client, p *profile.Profile) []string {
	var out []string
	for _, sc := range p.StorageClasses {
		if sc.Create {
			continue
		}
		want := sc.Provisioner
		if want == "" {
			want = p.Driver
		}
		got := &storagev1.StorageClass{}
		if err := c.Get(ctx, client.ObjectKey{Name: sc.Name}, got); err != nil {
			out = append(out, fmt.Sprintf("storage class %s (role %s): %v: create it, or set create: true in profile %s", sc.Name, sc.Role, err, p.Name))
		} else if got.Provisioner != want {
			out = append(out, fmt.Sprintf("storage class %s (role %s) is provisioned by %s, profile %s says %s", sc.Name, sc.Role, got.Provisioner, p.Name, want))
		}
	}
	if p.SnapshotClass.Create {
		return out
	}
	vsc := &snapshotv1.VolumeSnapshotClass{}
	if err := c.Get(ctx, client.ObjectKey{Name: p.SnapshotClass.Name}, vsc); err != nil {
		return append(out, fmt.Sprintf("volume snapshot class %s: %v: create it for driver %s, or set create: true in profile %s", p.SnapshotClass.Name, err, p.Driver, p.Name))
	}
	if vsc.Driver != p.Driver {
		return append(out, fmt.Sprintf("volume snapshot class %s belongs to driver %s, not %s", vsc.Name, vsc.Driver, p.Driver))
	}
	all := &snapshotv1.VolumeSnapshotClassList{}
	if err := c.List(ctx, all); err != nil {
		return append(out, fmt.Sprintf("cannot list volume snapshot classes: %v", err))
	}
	// Velero (and the reference) choose the driver's class themselves: it must be the profile's.
	switch picked, _, err := snapclass.Select(p.Driver, all.Items); {
	case err != nil:
		out = append(out, fmt.Sprintf("Velero would find no volume snapshot class for driver %s, so every backup would fail before its DataUpload: label %s %s=true (%v)",
			p.Driver, vsc.Name, velerov1.VolumeSnapshotClassSelectorLabel, err))
	case picked != vsc.Name:
		out = append(out, fmt.Sprintf("Velero would snapshot driver %s's volumes with class %s, not the profile's %s: label %s %s=true (and no other class of the driver)",
			p.Driver, picked, vsc.Name, vsc.Name, velerov1.VolumeSnapshotClassSelectorLabel))
	}
	return out
}

// deniedAccess names what the running user may not do.
func deniedAccess(ctx context.Context, c client.Client, attrs []authv1.ResourceAttributes) []string {
	denied, err := access.Denied(ctx, c, attrs)
	if err != nil {
		return []string{err.Error()}
	}
	if len(denied) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("the kubeconfig's user may not %s: the harness and the system under test need them (a cluster-admin binding for the run is simplest)", strings.Join(denied, ", "))}
}
