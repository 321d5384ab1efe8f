// Package ociimage writes a single-layer container image as an OCI image layout archive
// (oci-layout, index.json, blobs/sha256/...): what a vendor pushes to their registry with
// `skopeo copy oci-archive:FILE docker://...` or imports with `ctr images import`, without a Docker
// engine. The archive is deterministic: the same files give the same digests.
package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"time"
)

// File is one file of the image's layer.
type File struct {
	// Path inside the image, absolute.
	Path string
	Mode int64
	Data []byte
}

// Image is what Write writes.
type Image struct {
	// Ref is the image's name with its tag (the index's org.opencontainers.image.ref.name).
	Ref        string
	Files      []File
	Entrypoint []string
}

const (
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Write writes img as an OCI image layout tar archive to w and returns the manifest's digest (the
// image's digest once pushed unchanged).
func Write(w io.Writer, img Image) (string, error) {
	layerTar, err := tarOf(img.Files)
	if err != nil {
		return "", err
	}
	var layer bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&layer, gzip.BestCompression)
	gz.ModTime = time.Unix(0, 0)
	if _, err := gz.Write(layerTar); err != nil {
		return "", err
	}
	if err := gz.Close(); err != nil {
		return "", err
	}
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Entrypoint": img.Entrypoint},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{digestOf(layerTar)}},
	})
	if err != nil {
		return "", err
	}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": mediaManifest,
		"config": descriptor{MediaType: mediaConfig, Digest: digestOf(config), Size: int64(len(config))},
		"layers": []descriptor{{MediaType: mediaLayer, Digest: digestOf(layer.Bytes()), Size: int64(layer.Len())}},
	})
	if err != nil {
		return "", err
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []descriptor{{MediaType: mediaManifest, Digest: digestOf(manifest), Size: int64(len(manifest)),
			Annotations: map[string]string{"org.opencontainers.image.ref.name": img.Ref}}},
	})
	if err != nil {
		return "", err
	}
	tw := tar.NewWriter(w)
	entries := []File{{Path: "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)}, {Path: "index.json", Data: index}}
	for _, blob := range [][]byte{config, layer.Bytes(), manifest} {
		entries = append(entries, File{Path: "blobs/sha256/" + digestOf(blob)[len("sha256:"):], Data: blob})
	}
	for _, e := range entries {
		if err := writeFile(tw, e.Path, 0o644, e.Data); err != nil {
			return "", err
		}
	}
	return digestOf(manifest), tw.Close()
}

// tarOf is the layer: the files' folders, then the files, owned by root, dated 1970.
func tarOf(files []File) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	seen := map[string]bool{}
	for _, f := range files {
		if !path.IsAbs(f.Path) {
			return nil, fmt.Errorf("ociimage: %q is not an absolute path", f.Path)
		}
		var dirs []string
		for dir := path.Dir(f.Path); dir != "/" && !seen[dir]; dir = path.Dir(dir) {
			seen[dir] = true
			dirs = append([]string{dir}, dirs...)
		}
		for _, dir := range dirs {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir[1:] + "/", Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
				return nil, err
			}
		}
		if err := writeFile(tw, f.Path[1:], f.Mode, f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeFile(tw *tar.Writer, name string, mode int64, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}
