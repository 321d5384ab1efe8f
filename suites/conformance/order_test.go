package conformance

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// The cleanup order is read from the revisions the deletions were written at (D6).
func TestCleanupOrder(t *testing.T) {
	now := metav1.Now()
	obj := func(rv string, deleting bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{ResourceVersion: rv}}
		if deleting {
			p.DeletionTimestamp = &now
		}
		return p
	}
	type event struct {
		key  string
		rv   string
		gone bool
	}
	velero := []event{{"pod/du", "10", false}, {"pvc/du", "11", false}, {"pod/du", "12", true}, {"pvc/du", "13", true},
		{"pv/du", "14", true}, {"vs/du", "15", false}, {"vs/du", "16", true}}
	for _, tc := range []struct {
		name   string
		events []event
		want   string
		judged bool
	}{
		{"Velero's order", velero, "", true},
		{"the backupVS first", append([]event{{"vs/du", "9", false}}, velero...), "the backupVS's deletion (revision 9) came before the backupPVC was gone (13)", true},
		{"the backupPVC before the pod", []event{{"pvc/du", "10", false}, {"pod/du", "11", false}, {"pvc/du", "12", true}, {"vs/du", "15", false}},
			"the backupPVC's deletion (revision 10) came before the backupPod's (11)", true},
		{"the PV gone after the backupVS's deletion", []event{{"pod/du", "10", false}, {"pvc/du", "11", false}, {"pvc/du", "13", true},
			{"vs/du", "15", false}, {"pv/du", "16", true}}, "came before the backup PV was gone (16)", true},
		{"a deletion never seen", velero[:4], "", false},
		{"another DataUpload's", []event{{"pod/other", "10", false}}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := deletionOrder{seen: map[string]*deletion{}}
			for _, e := range tc.events {
				d.see(e.key, obj(e.rv, !e.gone), e.gone)
			}
			problems, judged := d.problems("du")
			got := strings.Join(problems, "; ")
			if judged != tc.judged || (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("problems = %q (judged %v), want %q (judged %v)", got, judged, tc.want, tc.judged)
			}
		})
	}
	// A relist that missed a deletion leaves its revision unknown: not judged.
	d := deletionOrder{seen: map[string]*deletion{}}
	for _, e := range velero {
		if e.key == "pvc/du" && e.gone {
			d.see(e.key, cache.DeletedFinalStateUnknown{Key: "ns/du", Obj: obj(e.rv, false)}, true)
			continue
		}
		d.see(e.key, obj(e.rv, !e.gone), e.gone)
	}
	if _, judged := d.problems("du"); judged {
		t.Error("judged with a deletion whose revision is unknown")
	}
}
