package kind

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

// Image sources for the node (Options.Images).
const (
	ImagesOffline  = "offline"
	ImagesUpstream = "upstream"
	ImagesAuto     = "auto"
)

// registryProbe is asked, in auto mode only, whether a registry can be reached (a variable for
// the tests). That one request, and its DNS lookup, are the only traffic of the lane that may leave
// the machine; offline and upstream skip it.
var registryProbe = "https://registry.k8s.io/v2/"

// images are the tags the lane uses.
type images struct {
	Node, Sidecars, Emulator, DataMover string
}

// resolveSource turns auto into offline or upstream: upstream when the registry answers within
// a few seconds.
func resolveSource(ctx context.Context, source string, log logr.Logger) (string, error) {
	switch source {
	case ImagesOffline, ImagesUpstream:
		return source, nil
	case "", ImagesAuto:
	default:
		return "", fmt.Errorf("kind lane: images %q: want offline, upstream or auto", source)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, registryProbe, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Info("no registry reachable: building the offline node image", "probe", registryProbe, "error", err.Error())
		return ImagesOffline, nil
	}
	resp.Body.Close()
	log.Info("a registry answers: using the upstream kindest/node image", "probe", registryProbe, "status", resp.Status)
	return ImagesUpstream, nil
}

// buildImages runs hack/kind/images.sh (which rebuilds nothing that is cached) and reads the tags
// it prints; its progress goes to progressLog.
func buildImages(ctx context.Context, source, progressLog string) (images, error) {
	args := []string{}
	if source == ImagesUpstream {
		args = append(args, "--drivers")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(toolchain.RepoRoot(), "hack", "kind", "images.sh"), args...)
	var out bytes.Buffer
	logf, err := os.Create(progressLog)
	if err != nil {
		return images{}, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = &out, logf
	if err := cmd.Run(); err != nil {
		return images{}, fmt.Errorf("kind lane: hack/kind/images.sh: %w; its log %s ends:\n%s", err, progressLog, tail(progressLog, 15))
	}
	var im images
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "NODE_IMAGE":
			im.Node = v
		case "SIDECARS_IMAGE":
			im.Sidecars = v
		case "EMULATOR_IMAGE":
			im.Emulator = v
		case "DATAMOVER_IMAGE":
			im.DataMover = v
		}
	}
	if im.Sidecars == "" || im.Emulator == "" || im.DataMover == "" || (source == ImagesOffline && im.Node == "") {
		return im, fmt.Errorf("kind lane: hack/kind/images.sh printed no tags (%q)", out.String())
	}
	return im, nil
}

// tail is the last n lines of a file, for error messages.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
