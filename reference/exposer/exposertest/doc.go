// Package exposertest makes controller-runtime's fake client watch the way the API server does
// where the exposer relies on it, for the unit tests of the exposer and of the controllers using it.
package exposertest
