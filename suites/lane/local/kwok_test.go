package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/lane"
)

// The stage that fails unrecoverable pods selects them by the prefix the suites name them with.
func TestUnrecoverableStageSelectsThePrefix(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(toolchain.RepoRoot(), "fixtures", "kwok", "backup-pod-unrecoverable.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`'.metadata.name | startswith("` + lane.UnrecoverablePodPrefix + `")'`,
		`message: "` + lane.UnrecoverablePodMessage + `"`, `message: "` + lane.UnrecoverableContainerMessage + `"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("fixtures/kwok/backup-pod-unrecoverable.yaml lacks %s", want)
		}
	}
	for _, s := range ourStages {
		if _, err := os.Stat(filepath.Join(toolchain.RepoRoot(), "fixtures", "kwok", s)); err != nil {
			t.Error(err)
		}
	}
}
