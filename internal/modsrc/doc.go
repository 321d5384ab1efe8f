// Package modsrc finds files inside upstream Go modules the project requires (CRDs, RBAC
// manifests), at the versions go.mod pins, through the Go module cache.
package modsrc
