// Command cp-plugin copies files into a folder: the entrypoint of the plugin image the kind lane
// builds for Velero (velero install runs each plugin image as an init container that copies its
// plugin binary into the server's /target; upstream images do it with busybox's cp, which cannot
// be pulled offline).
//
//	cp-plugin FILE... DIR
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: cp-plugin FILE... DIR")
		os.Exit(2)
	}
	dir := os.Args[len(os.Args)-1]
	for _, f := range os.Args[1 : len(os.Args)-1] {
		if err := copyFile(f, filepath.Join(dir, filepath.Base(f))); err != nil {
			fmt.Fprintln(os.Stderr, "cp-plugin:", err)
			os.Exit(1)
		}
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
