package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCountRequests(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	before := `{"stage":"ResponseComplete","verb":"get","userAgent":"velero/v1.18.3 (linux/amd64) kubernetes/abc","objectRef":{"resource":"pods"}}` + "\n"
	if err := os.WriteFile(path, []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}
	from, err := markAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	window := strings.Join([]string{
		`{"stage":"ResponseComplete","verb":"create","userAgent":"velero/v1.18.3 (linux/amd64) kubernetes/abc","objectRef":{"resource":"persistentvolumeclaims"}}`,
		`{"stage":"ResponseComplete","verb":"create","userAgent":"velero/v1.18.3 (linux/amd64) kubernetes/abc","objectRef":{"resource":"persistentvolumeclaims"}}`,
		`{"stage":"ResponseStarted","verb":"watch","userAgent":"velero/v1.18.3","objectRef":{"resource":"pods"}}`,
		`{"stage":"ResponseComplete","verb":"watch","userAgent":"velero/v1.18.3","objectRef":{"resource":"pods"}}`, // the same watch ending
		`{"stage":"ResponseComplete","verb":"get","userAgent":"backuppvc-reference/v0.0.0","objectRef":{"resource":"datauploads"}}`,
		`{"stage":"ResponseComplete","verb":"get","userAgent":"kube-probe/1.35"}`,
		`{"stage":"Panic","verb":"get","userAgent":"backuppvc-reference/v0.0.0"}`,
	}, "\n") + "\n"
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(window + `{"stage":"ResponseComplete","verb":"get","userAgent":"velero/v1.18.3","objectRef":{"resource":"pods"}}` + "\n")
	f.Close()
	to, err := markAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	to.offset = from.offset + int64(len(window)) // the last line is after the window
	got, err := countRequests(path, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if v := got["velero"]; v == nil || v.Total != 3 || v.ByResource["create persistentvolumeclaims"] != 2 || v.ByResource["watch pods"] != 1 {
		t.Errorf("velero's requests %+v, want 3: 2 creates of PVCs and a watch of pods counted once", v)
	}
	if r := got["backuppvc-reference"]; r == nil || r.Total != 1 {
		t.Errorf("the reference's requests %+v, want 1 (a Panic stage is no response)", r)
	}
	if p := got["kube-probe"]; p == nil || p.ByResource["get (non-resource)"] != 1 {
		t.Errorf("a non-resource request %+v, want counted as such", p)
	}
	if _, err := markAudit(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing audit log is not an error")
	}
	// A rotation: the log's name now holds a new file.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}
	rotated, err := markAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := countRequests(path, from, rotated); err == nil || !strings.Contains(err.Error(), "rotated") {
		t.Errorf("a count across a rotation: %v, want an error saying so", err)
	}
}
