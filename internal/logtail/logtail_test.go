package logtail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExcerpt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var lines []string
	for i := 1; i <= 10; i++ {
		lines = append(lines, strings.Repeat("x", i))
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		head, n int
		want    string
	}{
		{0, 2, "xxxxxxxxx\nxxxxxxxxxx"},
		{1, 1, "x\n...\nxxxxxxxxxx"},
		{5, 5, strings.Join(lines, "\n")},
	} {
		if got := Excerpt(path, tc.head, tc.n); got != tc.want {
			t.Errorf("Excerpt(%d, %d) = %q, want %q", tc.head, tc.n, got, tc.want)
		}
	}
	if got := Tail(filepath.Join(t.TempDir(), "none"), 3); got != "" {
		t.Errorf("missing file: %q", got)
	}
}
