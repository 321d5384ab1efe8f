package toolchain

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Component names, as hack/tools.sh knows them, and the version variable of each.
var versionKeys = map[string]string{
	"kubernetes":      "KUBERNETES_VERSION",
	"etcd":            "ETCD_VERSION",
	"kwok":            "KWOK_VERSION",
	"csi-provisioner": "EXTERNAL_PROVISIONER_VERSION",
	"csi-snapshotter": "EXTERNAL_SNAPSHOTTER_VERSION",
	"csi-sanity":      "CSI_TEST_VERSION",
	"kind":            "KIND_VERSION",
	// SUT=velero
	"velero":                "VELERO_VERSION",
	"velero-plugin-for-aws": "VELERO_PLUGIN_FOR_AWS_VERSION",
	"versitygw":             "VERSITYGW_VERSION",
}

// RepoRoot is the repository's top folder (this file lives at internal/toolchain/).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// Versions reads hack/versions.env; an environment variable of the same name overrides a pin.
func Versions() (map[string]string, error) {
	f, err := os.Open(filepath.Join(RepoRoot(), "hack", "versions.env"))
	if err != nil {
		return nil, fmt.Errorf("toolchain: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			if env := os.Getenv(k); env != "" {
				v = env // the same override hack/tools.sh honours
			}
			out[k] = v
		}
	}
	return out, s.Err()
}

// CacheDir is where hack/tools.sh puts what it builds.
func CacheDir() string {
	if d := os.Getenv("BACKUPPVC_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "backuppvc-conformance")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "backuppvc-conformance")
}

// BuildPath is where the harness builds one of this repository's own programs (the reference, a
// driver of drivers/) named name: a fixed path in the cache, outside any lane's or run's folder,
// so that go build finds the program up to date there and a warm run neither compiles nor links it.
func BuildPath(name string) string {
	return filepath.Join(CacheDir(), "build", name)
}

// Binary returns the path of a pinned binary, e.g. Binary("kubernetes", "kube-apiserver"), or an
// error saying how to build it.
func Binary(component, name string) (string, error) {
	key, ok := versionKeys[component]
	if !ok {
		return "", fmt.Errorf("toolchain: unknown component %q", component)
	}
	versions, err := Versions()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(CacheDir(), "bin", component+"-"+versions[key])
	path := filepath.Join(dir, name)
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		return "", fmt.Errorf("toolchain: %s %s is not built (run: make tools, or hack/tools.sh %s)", component, versions[key], component)
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("toolchain: %s has no %s: %w", dir, name, err)
	}
	return path, nil
}

// RequireIntegration is what an integration test calls first: it skips the test when the
// binaries are missing, unless BACKUPPVC_REQUIRE_INTEGRATION=1 (as in make test), where a
// missing binary fails it.
func RequireIntegration(t testing.TB, binaries ...[2]string) map[string]string {
	t.Helper()
	paths := map[string]string{}
	for _, b := range binaries {
		p, err := Binary(b[0], b[1])
		if err != nil {
			if os.Getenv("BACKUPPVC_REQUIRE_INTEGRATION") == "1" {
				t.Fatal(err)
			}
			t.Skip(err)
		}
		paths[b[1]] = p
	}
	return paths
}
