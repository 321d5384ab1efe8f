// Package kubescheme is the one runtime scheme the harness's clients use: Kubernetes' built-in
// types, CustomResourceDefinitions, the CSI snapshot types and Velero's CRD types, each registered from its own project's
// package. Neither the suites nor the lanes take it from the reference.
package kubescheme

import (
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	velerov2alpha1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v2alpha1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// New returns a scheme with every type the harness reads or writes.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextv1.AddToScheme, snapshotv1.AddToScheme, velerov1.AddToScheme, velerov2alpha1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err) // static registration: cannot fail
		}
	}
	return s
}
