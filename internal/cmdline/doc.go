// Package cmdline parses the flags of the harness's commands one way: a bad flag, or an argument
// a command does not take, is refused with the command's usage line and exit code 2 (a command
// that silently ignored `cmd FILE` would do something else than asked); -h prints the usage and
// the flags and exits 0.
package cmdline
