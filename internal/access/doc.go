// Package access asks the API server what the running user may not do, one
// SelfSubjectAccessReview per verb, for the checks that must refuse to start rather than fail
// half-way (the existing lane's preflight, the doctor's probe).
package access
