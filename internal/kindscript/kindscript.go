// Package kindscript runs the kind lane's scripts under hack/kind (images.sh, hostpath.sh) and
// reads the KEY=value lines they print.
package kindscript

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/backuppvc-conformance/harness/internal/logtail"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

// Run runs hack/kind/<script> with extra environment, its stderr into logPath, and returns its
// stdout; a failure says where the log is and how it ends.
func Run(ctx context.Context, logPath string, env []string, script string, args ...string) ([]byte, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, filepath.Join(toolchain.RepoRoot(), "hack", "kind", script), args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, logf
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("hack/kind/%s: %w; its log %s ends:\n%s", script, err, logPath, logtail.Tail(logPath, 15))
	}
	return out.Bytes(), nil
}

// Vars are the KEY=value lines of out.
func Vars(out []byte) map[string]string {
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			vars[k] = v
		}
	}
	return vars
}
