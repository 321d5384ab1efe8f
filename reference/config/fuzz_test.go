package config

import (
	"testing"
)

// FuzzLint: neither Parse nor Lint panics on any input, and the lint reports an error exactly
// when Velero's decoding rejects the document (spec A5), so its errors can be trusted.
func FuzzLint(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"backupPVC":{"a":{"readOnly":true}}}`,
		`{"backupPVC":{"a":{"readOnly":"true","annotations":{"k":true}}}}`,
		`{"BackupPVC":{"a":{"READONLY":1,"storageclass":null}},"backupPVC":null}`,
		`{"loadConcurrency":{"globalConfig":-1,"perNodeConfig":[{"nodeSelector":{"matchLabels":{"a":"b"}},"number":2}]}}`,
		`{"loadAffinity":[{"nodeSelector":{"matchExpressions":[{"key":"k","operator":"In","values":["v"]}]},"storageClass":"x"}]}`,
		`{"podResources":{"cpuRequest":"1"},"cachePVC":{"residentThresholdInMB":1.5}}`,
		`{"a":1}{"b":2}`, "{\"\u212a\":1}", `{"privilegedFsBackup":0}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		findings := Lint(doc)
		_, err := Parse(doc)
		if (err != nil) != HasErrors(findings) {
			t.Fatalf("Parse error = %v but lint errors = %v for %q: %v", err, HasErrors(findings), doc, findings)
		}
	})
}
