// Command backuppvc-runc is a runc wrapper for Docker engines on hosts whose capability bounding set
// lacks CAP_SYS_RESOURCE (as in some VMs and sandboxes): `docker run --privileged`, which kind uses
// for its nodes, asks for every capability and runc refuses. The wrapper removes CAP_SYS_RESOURCE
// from the OCI bundle's config.json on `create`/`run` and from the process file on `exec`, then
// execs the real runc with the same arguments. hack/docker.sh registers it as the default runtime
// of the Docker engine it starts (never of an engine it did not start).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// dropped is the capability the host cannot grant.
const dropped = "CAP_SYS_RESOURCE"

// realRunc is Debian's runc, which docker.io depends on; BACKUPPVC_RUNC overrides it.
const realRunc = "/usr/bin/runc"

func main() {
	if err := rewrite(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "backuppvc-runc:", err)
		os.Exit(1)
	}
	runc := realRunc
	if v := os.Getenv("BACKUPPVC_RUNC"); v != "" {
		runc = v
	}
	if err := syscall.Exec(runc, append([]string{runc}, os.Args[1:]...), os.Environ()); err != nil {
		fmt.Fprintf(os.Stderr, "backuppvc-runc: exec %s: %v\n", runc, err)
		os.Exit(1)
	}
}

// rewrite edits the file the runc command line will read its capabilities from, if any.
func rewrite(args []string) error {
	cmd, opts := command(args)
	switch cmd {
	case "create", "run":
		bundle := opts["--bundle"]
		if bundle == "" {
			bundle = opts["-b"]
		}
		if bundle == "" {
			bundle = "."
		}
		return dropFrom(filepath.Join(bundle, "config.json"), "process")
	case "exec":
		if p := opts["--process"]; p != "" {
			return dropFrom(p, "")
		}
		if p := opts["-p"]; p != "" {
			return dropFrom(p, "")
		}
	}
	return nil
}

// command finds runc's subcommand (the first argument that is not a global option) and the
// options with values that follow it, in both "--opt value" and "--opt=value" forms.
func command(args []string) (string, map[string]string) {
	globalsWithValue := map[string]bool{"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": true}
	opts := map[string]string{}
	cmd := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if cmd == "" {
			if globalsWithValue[a] {
				i++
				continue
			}
			if len(a) > 0 && a[0] != '-' {
				cmd = a
			}
			continue
		}
		for _, name := range []string{"--bundle", "-b", "--process", "-p"} {
			switch {
			case a == name && i+1 < len(args):
				opts[name] = args[i+1]
			case len(a) > len(name)+1 && a[:len(name)+1] == name+"=":
				opts[name] = a[len(name)+1:]
			}
		}
	}
	return cmd, opts
}

// dropFrom removes the capability from every set of the process object found at key ("" for
// the document itself), keeping every other field as it was.
func dropFrom(path, key string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	process := doc
	if key != "" {
		raw, ok := doc[key]
		if !ok {
			return nil
		}
		if err := json.Unmarshal(raw, &process); err != nil {
			return fmt.Errorf("%s: %s: %w", path, key, err)
		}
	}
	raw, ok := process["capabilities"]
	if !ok {
		return nil
	}
	var sets map[string][]string
	if err := json.Unmarshal(raw, &sets); err != nil {
		return fmt.Errorf("%s: capabilities: %w", path, err)
	}
	changed := false
	for name, caps := range sets {
		kept := caps[:0]
		for _, c := range caps {
			if c == dropped {
				changed = true
				continue
			}
			kept = append(kept, c)
		}
		sets[name] = kept
	}
	if !changed {
		return nil
	}
	if process["capabilities"], err = json.Marshal(sets); err != nil {
		return err
	}
	if key != "" {
		if doc[key], err = json.Marshal(process); err != nil {
			return err
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o600)
}
