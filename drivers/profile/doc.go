// Package profile reads driver profiles (drivers/<name>/profile.yaml): what a CSI driver can do,
// the classes the suites use, timeouts and the lanes it runs on. Decoding is strict: an unknown or
// misspelled field is an error naming the field and its line, because a silently ignored typo in
// a certification profile changes what is certified.
package profile
