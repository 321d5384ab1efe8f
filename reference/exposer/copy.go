package exposer

import (
	"context"
	"errors"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/reference/mutant"
)

// copyNamespaced copies the secrets and configmaps the backupPVC's driver needs from the source
// namespace into the owner's, labelled with the owner's UID (spec B10). An object of the same name
// that is not an identical copy is a collision: the expose fails rather than overwrite it.
func (e *Exposer) copyNamespaced(ctx context.Context, owner corev1.ObjectReference, sourceNS string, secrets, configMaps []string) error {
	label := map[string]string{BackupPVCSecretLabel: string(owner.UID)}
	for _, name := range secrets {
		src := &corev1.Secret{}
		if err := e.client.Get(ctx, client.ObjectKey{Namespace: sourceNS, Name: name}, src); err != nil {
			return fmt.Errorf("get secret %s/%s: %w", sourceNS, name, err)
		}
		dst := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: owner.Namespace, Name: name, Labels: label},
			Type:       src.Type, Data: src.Data, StringData: src.StringData,
		}
		if err := e.createCopy(ctx, dst, func(existing client.Object) bool {
			s := existing.(*corev1.Secret)
			return maps.EqualFunc(s.Data, src.Data, func(a, b []byte) bool { return string(a) == string(b) })
		}, &corev1.Secret{}); err != nil {
			return fmt.Errorf("error copying secret %s from %s to %s: %w", name, sourceNS, owner.Namespace, err)
		}
	}
	for _, name := range configMaps {
		src := &corev1.ConfigMap{}
		if err := e.client.Get(ctx, client.ObjectKey{Namespace: sourceNS, Name: name}, src); err != nil {
			return fmt.Errorf("get configmap %s/%s: %w", sourceNS, name, err)
		}
		dst := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: owner.Namespace, Name: name, Labels: label},
			Data:       src.Data, BinaryData: src.BinaryData,
		}
		if err := e.createCopy(ctx, dst, func(existing client.Object) bool {
			c := existing.(*corev1.ConfigMap)
			return maps.Equal(c.Data, src.Data) && maps.EqualFunc(c.BinaryData, src.BinaryData, func(a, b []byte) bool { return string(a) == string(b) })
		}, &corev1.ConfigMap{}); err != nil {
			return fmt.Errorf("error copying configmap %s from %s to %s: %w", name, sourceNS, owner.Namespace, err)
		}
	}
	return nil
}

// ErrCopyCollision is Velero's (kube.ErrSecretCollision) for a secret or configmap that is in the
// Velero namespace already, and not this owner's copy of the same data.
var ErrCopyCollision = errors.New("secret collision: same name exists with different data")

// createCopy creates dst. An existing object is accepted only when it is this owner's own copy
// (its label) of the same data (same): an expose run again after a restart. Anything else is a
// collision, as in Velero, even with the same data: a copy of another owner would be deleted at
// that owner's cleanup, and an object we did not make must never be.
func (e *Exposer) createCopy(ctx context.Context, dst client.Object, same func(client.Object) bool, existing client.Object) error {
	err := e.client.Create(ctx, dst)
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	if err := e.client.Get(ctx, client.ObjectKeyFromObject(dst), existing); err != nil {
		return err
	}
	if mutant.Is("b10-collision-overwritten") { // negative control: a colliding object is taken over (B10)
		existing.SetLabels(dst.GetLabels())
		return e.client.Update(ctx, existing)
	}
	for k, v := range dst.GetLabels() {
		if existing.GetLabels()[k] != v {
			return ErrCopyCollision
		}
	}
	if !same(existing) {
		return ErrCopyCollision
	}
	return nil
}
