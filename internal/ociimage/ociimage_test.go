package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// entries reads a tar into name -> content.
func entries(t *testing.T, r io.Reader) (map[string][]byte, map[string]int64) {
	t.Helper()
	data, modes := map[string][]byte{}, map[string]int64{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return data, modes
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		data[h.Name], modes[h.Name] = b, h.Mode
	}
}

func TestWrite(t *testing.T) {
	img := Image{Ref: "backuppvc/datamover:abc", Entrypoint: []string{"/velero"},
		Files: []File{{Path: "/velero", Mode: 0o755, Data: []byte("binary")}, {Path: "/etc/x/y", Mode: 0o644, Data: []byte("conf")}}}
	var a, b bytes.Buffer
	digest, err := Write(&a, img)
	if err != nil {
		t.Fatal(err)
	}
	if d2, _ := Write(&b, img); d2 != digest || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two archives of the same image differ")
	}
	files, _ := entries(t, bytes.NewReader(a.Bytes()))
	blob := func(d string) []byte {
		t.Helper()
		data, ok := files["blobs/sha256/"+strings.TrimPrefix(d, "sha256:")]
		if !ok {
			t.Fatalf("no blob %s", d)
		}
		if digestOf(data) != d {
			t.Fatalf("blob %s holds content of digest %s", d, digestOf(data))
		}
		return data
	}
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout %q", files["oci-layout"])
	}
	var index struct {
		Manifests []descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(files["index.json"], &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json %s: %v", files["index.json"], err)
	}
	if m := index.Manifests[0]; m.Digest != digest || m.Annotations["org.opencontainers.image.ref.name"] != img.Ref {
		t.Errorf("index entry %+v, want digest %s and ref %s", m, digest, img.Ref)
	}
	var manifest struct {
		Config descriptor   `json:"config"`
		Layers []descriptor `json:"layers"`
	}
	if err := json.Unmarshal(blob(digest), &manifest); err != nil || len(manifest.Layers) != 1 {
		t.Fatalf("manifest: %v", err)
	}
	var config struct {
		Config struct{ Entrypoint []string } `json:"config"`
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(blob(manifest.Config.Digest), &config); err != nil || strings.Join(config.Config.Entrypoint, " ") != "/velero" {
		t.Fatalf("config %+v: %v", config, err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(blob(manifest.Layers[0].Digest)))
	if err != nil {
		t.Fatal(err)
	}
	layerTar, _ := io.ReadAll(gz)
	if len(config.RootFS.DiffIDs) != 1 || config.RootFS.DiffIDs[0] != digestOf(layerTar) {
		t.Errorf("diff_ids %v, the layer's uncompressed digest is %s", config.RootFS.DiffIDs, digestOf(layerTar))
	}
	layer, modes := entries(t, bytes.NewReader(layerTar))
	if string(layer["velero"]) != "binary" || modes["velero"] != 0o755 || string(layer["etc/x/y"]) != "conf" {
		t.Errorf("layer files %v modes %v", layer, modes)
	}
	if _, ok := layer["etc/"]; !ok {
		t.Errorf("layer lacks the parent folders: %v", layer)
	}
	if _, err := Write(io.Discard, Image{Files: []File{{Path: "relative"}}}); err == nil {
		t.Error("a relative path was accepted")
	}
}
