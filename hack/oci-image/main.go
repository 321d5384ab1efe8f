// Command oci-image writes a static binary as a one-layer OCI image archive, for make
// datamover-image: the harness's data mover for a vendor's registry, no Docker engine needed.
//
//	oci-image -o FILE -repository NAME [-entrypoint /velero] BINARY=/PATH/IN/IMAGE...
//
// The tag is the first 12 hex digits of the layer's content; it prints the reference, the
// manifest digest and how to push it.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/backuppvc-conformance/harness/internal/ociimage"
)

func main() {
	out := flag.String("o", "", "the archive to write")
	repo := flag.String("repository", "", "the image's repository (e.g. backuppvc/datamover)")
	entrypoint := flag.String("entrypoint", "", "the image's entrypoint (default: the first file)")
	flag.Parse()
	if err := run(*out, *repo, *entrypoint, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "oci-image:", err)
		os.Exit(1)
	}
}

func run(out, repo, entrypoint string, args []string) error {
	if out == "" || repo == "" || len(args) == 0 {
		return fmt.Errorf("usage: oci-image -o FILE -repository NAME [-entrypoint PATH] FILE=/PATH...")
	}
	img := ociimage.Image{}
	sum := sha256.New()
	for _, a := range args {
		src, dst, ok := strings.Cut(a, "=")
		if !ok || !strings.HasPrefix(dst, "/") {
			return fmt.Errorf("%q: want FILE=/PATH/IN/IMAGE", a)
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		sum.Write(data)
		img.Files = append(img.Files, ociimage.File{Path: dst, Mode: 0o755, Data: data})
	}
	if entrypoint == "" {
		entrypoint = img.Files[0].Path
	}
	img.Entrypoint = []string{entrypoint}
	img.Ref = repo + ":" + hex.EncodeToString(sum.Sum(nil))[:12]
	var b bytes.Buffer
	digest, err := ociimage.Write(&b, img)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("image %s (manifest %s) written to %s\n", img.Ref, digest, out)
	fmt.Printf("push it: skopeo copy oci-archive:%s docker://<registry>/%s\n", out, img.Ref)
	fmt.Printf("then: make e2e LANE=existing ... BACKUP_POD_IMAGE=<registry>/%s@%s\n", repo, digest)
	return nil
}
