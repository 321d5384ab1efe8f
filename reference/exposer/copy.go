package exposer

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
			return s.Type == src.Type && maps.EqualFunc(s.Data, src.Data, func(a, b []byte) bool { return string(a) == string(b) })
		}, &corev1.Secret{}); err != nil {
			return fmt.Errorf("copy secret %s from %s to %s: %w", name, sourceNS, owner.Namespace, err)
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
			return fmt.Errorf("copy configmap %s from %s to %s: %w", name, sourceNS, owner.Namespace, err)
		}
	}
	return nil
}

// createCopy creates dst; an existing object with the same content is accepted (another backup of
// the same namespace may share it), a different one is a collision.
func (e *Exposer) createCopy(ctx context.Context, dst client.Object, same func(client.Object) bool, existing client.Object) error {
	err := e.client.Create(ctx, dst)
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	if err := e.client.Get(ctx, client.ObjectKeyFromObject(dst), existing); err != nil {
		return err
	}
	if !same(existing) {
		return fmt.Errorf("%s already exists in %s with different content", dst.GetName(), dst.GetNamespace())
	}
	return nil
}
