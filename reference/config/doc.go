// Package config loads Velero's node-agent ConfigMap the way Velero v1.18.3 does (spec A1-A6) and
// lints it strictly for what Velero silently accepts but users get wrong.
package config
