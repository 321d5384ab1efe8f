// Package logtail excerpts log files for error messages and diagnostics.
package logtail

import (
	"os"
	"strings"
)

// Excerpt returns all of a short file, else its first head lines (where a bad flag or a start-up
// error is said), "...", and its last n lines. An unreadable file gives "".
func Excerpt(path string, head, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	switch {
	case len(lines) <= head+n:
	case head == 0:
		lines = lines[len(lines)-n:]
	default:
		lines = append(append(lines[:head:head], "..."), lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// Tail returns the last n lines of the file.
func Tail(path string, n int) string { return Excerpt(path, 0, n) }
