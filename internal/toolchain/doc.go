// Package toolchain finds the pinned upstream binaries hack/tools.sh builds: versions come from
// hack/versions.env, binaries from $BACKUPPVC_CACHE/bin/<component>-<version>/.
package toolchain
