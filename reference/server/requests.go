package server

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// RequestStats counts the API requests the reference makes, by verb and resource: the benchmark
// divides them by the DataUploads it ran.
type RequestStats struct {
	Total      int64            `json:"total"`
	ByResource map[string]int64 `json:"byResource"`
}

type requestCounter struct {
	next  http.RoundTripper
	mu    sync.Mutex
	stats RequestStats
}

func (c *requestCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	key := r.Method + " " + resourceOf(r.URL.Path)
	if r.URL.Query().Get("watch") == "true" {
		key = "WATCH " + resourceOf(r.URL.Path)
	}
	c.mu.Lock()
	c.stats.Total++
	c.stats.ByResource[key]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// resourceOf is the resource of an API path: pods in /api/v1/namespaces/x/pods/y.
func resourceOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return path
	}
	if len(parts) >= 3 && parts[0] == "namespaces" {
		parts = parts[2:]
	}
	if len(parts) == 0 {
		return "discovery"
	}
	return parts[0]
}

// countRequests wraps cfg's transport with a counter whose totals are written to path every half
// second (and at the end), atomically, until ctx ends.
func countRequests(ctx context.Context, cfg *rest.Config, path string) {
	c := &requestCounter{stats: RequestStats{ByResource: map[string]int64{}}}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		c.next = rt
		return c
	})
	write := func() {
		c.mu.Lock()
		data, _ := json.Marshal(c.stats)
		c.mu.Unlock()
		if os.WriteFile(path+".tmp", data, 0o644) == nil {
			_ = os.Rename(path+".tmp", path)
		}
	}
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				write()
				return
			case <-t.C:
				write()
			}
		}
	}()
}
