// Package server wires the reference's controllers into a controller-runtime manager: the scheme,
// the namespace-scoped cache, the node-agent configuration read once at start-up (spec A3).
package server
