package kindscript

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestVars(t *testing.T) {
	got := Vars([]byte("NODE_IMAGE=backuppvc/kind-node:v1\nnot a variable\nEMPTY=\nURL=http://a=b\n"))
	want := map[string]string{"NODE_IMAGE": "backuppvc/kind-node:v1", "EMPTY": "", "URL": "http://a=b"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Vars (-want +got):\n%s", diff)
	}
}
