// Package cmdlinetest runs the table of a command's argument tests: each command parses its
// arguments into its own options type through cmdline.Parse, and what is checked is the same for
// all of them (exit code, whether it goes on, the start of what it wrote, the options it read).
package cmdlinetest

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// Case is one command line and what parsing it must give.
type Case[O any] struct {
	Name string
	Args []string
	// Code and OK are what the parser returns: OK true means the command goes on.
	Code int
	OK   bool
	// Stderr is how what the parser wrote must start ("" checks nothing).
	Stderr string
	// Want, when set and OK, says what is wrong with the options read ("" for nothing).
	Want func(O) string
}

// Equals is a Want for options that compare with ==.
func Equals[O comparable](want O) func(O) string {
	return func(got O) string {
		if got != want {
			return fmt.Sprintf("options %+v, want %+v", got, want)
		}
		return ""
	}
}

// Run runs each case through parse as a subtest.
func Run[O any](t *testing.T, parse func(args []string, stderr io.Writer) (O, int, bool), cases []Case[O]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			var stderr bytes.Buffer
			o, code, ok := parse(tc.Args, &stderr)
			if code != tc.Code || ok != tc.OK {
				t.Fatalf("parse(%q) = %d, %v, want %d, %v; stderr %q", tc.Args, code, ok, tc.Code, tc.OK, stderr.String())
			}
			if !strings.HasPrefix(stderr.String(), tc.Stderr) {
				t.Errorf("stderr %q, want it to start %q", stderr.String(), tc.Stderr)
			}
			if ok && tc.Want != nil {
				if msg := tc.Want(o); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}
