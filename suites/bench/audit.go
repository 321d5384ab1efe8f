package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// auditMark is a position in the API server's audit log: what was written before it is another
// batch's. The file's identity tells a rotation apart.
type auditMark struct {
	offset int64
	file   os.FileInfo
}

// markAudit returns the audit log's current end.
func markAudit(path string) (auditMark, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return auditMark{}, fmt.Errorf("bench: audit log: %w", err)
	}
	return auditMark{offset: fi.Size(), file: fi}, nil
}

// auditEvent is what the count needs of an audit.k8s.io/v1 Event.
type auditEvent struct {
	Stage     string `json:"stage"`
	Verb      string `json:"verb"`
	UserAgent string `json:"userAgent"`
	ObjectRef *struct {
		Resource string `json:"resource"`
	} `json:"objectRef"`
}

// Requests counts one component's API requests, by "verb resource".
type Requests struct {
	Total      int64            `json:"total"`
	ByResource map[string]int64 `json:"byVerbAndResource"`
}

// countRequests reads the audit events written between from and to and counts the requests of
// each component, named by its user agent's program (client-go's default agent begins with the
// binary's name: "velero/v1.18.3 (linux/amd64) ...", "backuppvc-reference/..."). A request is one
// event at its response (a watch at ResponseStarted: it may outlive the window).
func countRequests(path string, from, to auditMark) (map[string]*Requests, error) {
	if !os.SameFile(from.file, to.file) || to.offset < from.offset {
		return nil, fmt.Errorf("bench: the audit log %s was rotated during the batch: its requests cannot be counted", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: audit log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(from.offset, io.SeekStart); err != nil {
		return nil, fmt.Errorf("bench: audit log: %w", err)
	}
	out := map[string]*Requests{}
	sc := bufio.NewScanner(io.LimitReader(f, to.offset-from.offset))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var e auditEvent
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue // a line cut by the window's end
		}
		if (e.Verb == "watch") != (e.Stage == "ResponseStarted") || (e.Stage != "ResponseComplete" && e.Stage != "ResponseStarted") {
			continue
		}
		name := component(e.UserAgent)
		r := out[name]
		if r == nil {
			r = &Requests{ByResource: map[string]int64{}}
			out[name] = r
		}
		r.Total++
		res := "(non-resource)"
		if e.ObjectRef != nil {
			res = e.ObjectRef.Resource
		}
		r.ByResource[e.Verb+" "+res]++
	}
	return out, sc.Err()
}

// component is the program a user agent names.
func component(userAgent string) string {
	name, _, _ := strings.Cut(userAgent, "/")
	if name == "" {
		return "(none)"
	}
	return name
}
