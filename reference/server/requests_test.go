package server

import "testing"

func TestResourceOf(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v1/namespaces/velero/pods/x":                                  "pods",
		"/api/v1/persistentvolumes/pv-1":                                    "persistentvolumes",
		"/apis/velero.io/v2alpha1/namespaces/velero/datauploads":            "datauploads",
		"/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/c":         "volumesnapshotcontents",
		"/apis/snapshot.storage.k8s.io/v1/namespaces/app/volumesnapshots/s": "volumesnapshots",
		"/api/v1/namespaces/app":                                            "namespaces",
		"/api":                                                              "/api",
		"/apis/velero.io/v1":                                                "discovery",
	} {
		if got := resourceOf(path); got != want {
			t.Errorf("resourceOf(%q) = %q, want %q", path, got, want)
		}
	}
}
