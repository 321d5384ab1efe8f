package sut

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A DataUpload carries its system's finalizer until that system ends it. A run that ends with
// one unfinished (a spec that failed part-way) and stops the system first leaves it, and the
// Velero namespace with it, Terminating for ever: measured on the vendor lane, where the run's
// namespace stayed behind on the vendor's cluster.

// drainDataUploads deletes the run's DataUploads while the system under test still runs, so that
// it cancels the unfinished ones and lets them go, and waits (up to timeout) until they are gone.
func drainDataUploads(ctx context.Context, c client.Client, ns string, timeout time.Duration) error {
	all := &velerov2alpha1.DataUploadList{}
	if err := c.List(ctx, all, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("listing the run's DataUploads: %w", err)
	}
	for i := range all.Items {
		if err := c.Delete(ctx, &all.Items[i]); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting DataUpload %s: %w", all.Items[i].Name, err)
		}
	}
	var left []string
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		list := &velerov2alpha1.DataUploadList{}
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			return false, nil
		}
		left = left[:0]
		for _, du := range list.Items {
			left = append(left, fmt.Sprintf("%s (%s, finalizers %v)", du.Name, du.Status.Phase, du.Finalizers))
		}
		return len(left) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("the system under test did not let %d deleted DataUploads go within %v: %s", len(left), timeout, strings.Join(left, ", "))
	}
	return nil
}

// releaseDataUploads removes the finalizers of the DataUploads still in the run's namespace once
// the system under test is stopped (nothing else would), so the namespace can go; it names them.
func releaseDataUploads(ctx context.Context, c client.Client, ns string) ([]string, error) {
	list := &velerov2alpha1.DataUploadList{}
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	var released []string
	for i := range list.Items {
		du := &list.Items[i]
		if len(du.Finalizers) == 0 {
			continue
		}
		patch := client.MergeFrom(du.DeepCopy())
		du.Finalizers = nil
		if err := c.Patch(ctx, du, patch); err != nil && !apierrors.IsNotFound(err) {
			return released, err
		}
		released = append(released, du.Name)
	}
	return released, nil
}

// StopDraining stops the system under test s of the Velero namespace ns the way a run must: its
// DataUploads deleted while it runs and let go (up to timeout), then it stopped, then any it still
// held released and named.
func StopDraining(ctx context.Context, c client.Client, ns string, s SUT, timeout time.Duration) error {
	errs := []error{drainDataUploads(ctx, c, ns, timeout), s.Stop(ctx)}
	if released, err := releaseDataUploads(ctx, c, ns); err != nil {
		errs = append(errs, fmt.Errorf("releasing the run's DataUploads: %w", err))
	} else if len(released) > 0 {
		errs = append(errs, fmt.Errorf("DataUploads the stopped system under test still held, their finalizers removed: %s", strings.Join(released, ", ")))
	}
	return errors.Join(errs...)
}
