package kind

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"

	"github.com/backuppvc-conformance/harness/internal/kindscript"
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
	out, err := kindscript.Run(ctx, progressLog, nil, "images.sh", args...)
	if err != nil {
		return images{}, fmt.Errorf("kind lane: %w", err)
	}
	v := kindscript.Vars(out)
	im := images{Node: v["NODE_IMAGE"], Sidecars: v["SIDECARS_IMAGE"], Emulator: v["EMULATOR_IMAGE"], DataMover: v["DATAMOVER_IMAGE"]}
	if im.Sidecars == "" || im.Emulator == "" || im.DataMover == "" || (source == ImagesOffline && im.Node == "") {
		return im, fmt.Errorf("kind lane: hack/kind/images.sh printed no tags (%q)", out)
	}
	return im, nil
}
