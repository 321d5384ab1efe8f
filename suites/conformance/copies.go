package conformance

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CopyLabel marks the secrets and configmaps Velero copies into its namespace for a backupPVC;
// its value is the DataUpload's UID (B10).
const CopyLabel = "velero.io/backup-pvc-secret"

// copyCollisionError is Velero's (kube.ErrSecretCollision) for a copy that collides.
const copyCollisionError = "secret collision: same name exists with different data"

// copySources are what a scenario with a CopyName puts in the source namespace for the system
// to copy, and, when it collides, the Secret of that name already in the Velero namespace.
type copySources struct {
	secret    *corev1.Secret
	configMap *corev1.ConfigMap
	collider  *corev1.Secret
}

// makeCopySources creates them, tracked, with data of this run's own.
func (k *Checker) makeCopySources(ctx context.Context, tr *Tracker, sc Scenario, r *Result) (*copySources, error) {
	if sc.CopyName == "" {
		return nil, nil
	}
	data := map[string][]byte{"token": []byte("kms-token-" + r.Namespace)}
	s := &copySources{
		secret: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.Namespace, Name: sc.CopyName, Labels: managedLabels()},
			Type: corev1.SecretTypeOpaque, Data: data},
		configMap: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: r.Namespace, Name: sc.CopyName, Labels: managedLabels()},
			Data: map[string]string{"vault": "https://vault.invalid/" + r.Namespace}},
	}
	objs := []client.Object{s.secret, s.configMap}
	if sc.Collide {
		// The source's very data: only the missing label of this DataUpload's copy makes it a
		// collision, as in Velero (kube.CopySecret compares data and labels).
		s.collider = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: k.Shared.VeleroNS, Name: sc.CopyName, Labels: managedLabels()},
			Type: corev1.SecretTypeOpaque, Data: maps.Clone(data)}
		objs = append(objs, s.collider)
	}
	for _, o := range objs {
		if err := tr.Create(ctx, o); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// expectCopied: the Observer saw the Secret and the ConfigMap copied into the Velero namespace
// with the source's content and labelled with the DataUpload's UID, and both are gone now (B10,
// D6).
func (k *Checker) expectCopied(ctx context.Context, r *Result, src *copySources) error {
	du := &velerov2alpha1.DataUpload{}
	if err := k.c().Get(ctx, client.ObjectKey{Namespace: k.Shared.VeleroNS, Name: r.DataUpload}, du); err != nil {
		return err
	}
	var problems []string
	judge := func(kind string, o client.Object, same bool) {
		switch {
		case o == nil:
			problems = append(problems, fmt.Sprintf("no copy of the %s %s was seen in %s", kind, src.secret.Name, k.Shared.VeleroNS))
		case o.GetLabels()[CopyLabel] != string(du.UID):
			problems = append(problems, fmt.Sprintf("the copied %s %s has %s=%q, want the DataUpload's UID %s", kind, src.secret.Name, CopyLabel, o.GetLabels()[CopyLabel], du.UID))
		case !same:
			problems = append(problems, fmt.Sprintf("the copied %s %s differs from the source's", kind, src.secret.Name))
		}
	}
	if s, ok := k.Obs.Secret(src.secret.Name); ok {
		judge("secret", s, s.Type == src.secret.Type && maps.EqualFunc(s.Data, src.secret.Data, func(a, b []byte) bool { return string(a) == string(b) }))
	} else {
		judge("secret", nil, false)
	}
	if cm, ok := k.Obs.ConfigMap(src.configMap.Name); ok {
		judge("configmap", cm, maps.Equal(cm.Data, src.configMap.Data))
	} else {
		judge("configmap", nil, false)
	}
	if len(problems) > 0 {
		return fmt.Errorf("DataUpload %s: %s", du.Name, strings.Join(problems, "; "))
	}
	var left []string
	if err := wait.PollUntilContextTimeout(ctx, waitStep, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		left = nil
		for _, o := range []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}} {
			if err := k.c().Get(ctx, client.ObjectKey{Namespace: k.Shared.VeleroNS, Name: src.secret.Name}, o); !apierrors.IsNotFound(err) {
				left = append(left, fmt.Sprintf("%T", o))
			}
		}
		return len(left) == 0, nil
	}); err != nil {
		return fmt.Errorf("the copies of %s left in %s after DataUpload %s ended: %v", src.secret.Name, k.Shared.VeleroNS, du.Name, left)
	}
	r.Evidence = append(r.Evidence, fmt.Sprintf("secret and configmap %s copied into %s with %s=%s, then removed", src.secret.Name, k.Shared.VeleroNS, CopyLabel, du.UID))
	return nil
}

// expectExposeCollision: the expose failed on the copy's collision, at once: the DataUpload
// Failed with Velero's words, no backupPVC made, the colliding Secret as it was (never
// overwritten, never deleted: the system did not make it); the Backup PartiallyFailed (D2, B10,
// E1).
func (k *Checker) expectExposeCollision(ctx context.Context, r *Result, src *copySources) error {
	du, _, err := k.dataUploadFinal(ctx, r, "the DataUpload to fail", k.Profile.Timeouts.Prepare.Duration+time.Minute)
	if err != nil {
		return err
	}
	want := fmt.Sprintf("error copying secret %s from %s to %s: %s", src.secret.Name, r.Namespace, k.Shared.VeleroNS, copyCollisionError)
	if du.Status.Phase != velerov2alpha1.DataUploadPhaseFailed || !strings.HasPrefix(du.Status.Message, "error exposing snapshot: ") || !strings.Contains(du.Status.Message, want) {
		return fmt.Errorf("DataUpload %s ended %s %q, want Failed \"error exposing snapshot: ...%s\"\n%s", du.Name, du.Status.Phase, du.Status.Message, want, k.describe(ctx, r))
	}
	if _, ok := k.Obs.PVC(du.Name); ok {
		return fmt.Errorf("DataUpload %s: a backupPVC was made though the copy collided before any intermediate object", du.Name)
	}
	kept := &corev1.Secret{}
	if err := k.c().Get(ctx, client.ObjectKeyFromObject(src.collider), kept); err != nil {
		return fmt.Errorf("the secret %s/%s the system did not make: %w", src.collider.Namespace, src.collider.Name, err)
	}
	if kept.ResourceVersion != src.collider.ResourceVersion {
		return fmt.Errorf("the secret %s/%s the system did not make was changed (resourceVersion %s -> %s, labels %v)", kept.Namespace, kept.Name, src.collider.ResourceVersion, kept.ResourceVersion, kept.Labels)
	}
	r.Evidence = append(r.Evidence, fmt.Sprintf("DataUpload Failed %q; the colliding secret untouched", du.Status.Message))
	return k.expectBackup(ctx, r, velerov1.BackupPhasePartiallyFailed, 1)
}
