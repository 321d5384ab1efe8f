// Package cli is the backuppvc-reference command line: flags, subcommands, exit codes.
package cli
