package server

import (
	"testing"

	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

func TestDefaultImageIsThePinnedVelero(t *testing.T) {
	v, err := toolchain.Versions()
	if err != nil {
		t.Fatal(err)
	}
	if want := "velero/velero:" + v["VELERO_VERSION"]; DefaultImage != want {
		t.Errorf("DefaultImage %s, want %s (VELERO_VERSION in hack/versions.env)", DefaultImage, want)
	}
}
