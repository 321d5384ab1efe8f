package config

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestLint(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []Finding
	}{
		{name: "clean document", doc: `{"backupPVC":{"gold":{"storageClass":"bronze","readOnly":true}}}`},
		{name: "A5 case-only key readonly", doc: `{"backupPVC":{"gold":{"readonly":true}}}`, want: []Finding{
			{Path: "$.backupPVC.gold.readonly", Severity: SeverityWarning, Message: `key "readonly" matches field "readOnly" only case-insensitively: Velero accepts it, but write "readOnly"`}}},
		{name: "A5 unknown field with did-you-mean", doc: `{"backupPVC":{"gold":{"read-only":true,"storageClas":"x"}}}`, want: []Finding{
			{Path: `$.backupPVC.gold["read-only"]`, Severity: SeverityWarning, Message: `unknown field "read-only": Velero ignores it; did you mean "readOnly"?`},
			{Path: "$.backupPVC.gold.storageClas", Severity: SeverityWarning, Message: `unknown field "storageClas": Velero ignores it; did you mean "storageClass"?`},
			{Path: "$.backupPVC.gold", Severity: SeverityWarning, Message: "entry changes nothing: the backupPVC uses the source class and ReadWriteOnce, as with no entry"}}},
		{name: "A5 unknown field without suggestion", doc: `{"replicas":3}`, want: []Finding{
			{Path: "$.replicas", Severity: SeverityWarning, Message: `unknown field "replicas": Velero ignores it`}}},
		{name: "A5 duplicate keys", doc: `{"backupPVC":{"gold":{"readOnly":true,"readOnly":false}}}`, want: []Finding{
			{Path: "$.backupPVC.gold.readOnly", Severity: SeverityWarning, Message: `duplicate of "readOnly" (field "readOnly"): Velero silently uses the last one`},
			{Path: "$.backupPVC.gold", Severity: SeverityWarning, Message: "entry changes nothing: the backupPVC uses the source class and ReadWriteOnce, as with no entry"}}},
		{name: "A5 duplicate map keys", doc: `{"backupPVC":{"gold":{"readOnly":true},"gold":{"readOnly":true}}}`, want: []Finding{
			{Path: "$.backupPVC.gold", Severity: SeverityWarning, Message: `duplicate key "gold": Velero silently uses the last one`}}},
		{name: "A5 string boolean", doc: `{"backupPVC":{"gold":{"readOnly":"true"}}}`, want: []Finding{
			{Path: "$.backupPVC.gold.readOnly", Severity: SeverityError, Message: `expected a JSON boolean, found the string "true": write true without quotes (Velero's node-agent refuses the whole config)`}}},
		{name: "doc disagreement 3: boolean annotation", doc: `{"backupPVC":{"gold":{"annotations":{"fast":true}}}}`, want: []Finding{
			{Path: "$.backupPVC.gold.annotations.fast", Severity: SeverityError, Message: `annotation values must be strings, found a boolean true: quote it (the Velero documentation's own sample has this mistake, and Velero's node-agent refuses the whole config)`}}},
		{name: "B9 spcNoRelabeling without readOnly", doc: `{"backupPVC":{"gold":{"spcNoRelabeling":true}}}`, want: []Finding{
			{Path: "$.backupPVC.gold.spcNoRelabeling", Severity: SeverityWarning, Message: "takes effect only with readOnly: true; Velero ignores it here (with a warning in its log)"}}},
		{name: "A4 invalid JSON has a line", doc: "{\n \"backupPVC\": {\n  \"gold\": {,}}}", want: []Finding{
			{Path: "$", Severity: SeverityError, Message: "invalid JSON at line 3 column 12: invalid character ',' looking for beginning of object key string"}}},
		{name: "A4 trailing data", doc: `{} {}`, want: []Finding{
			{Path: "$", Severity: SeverityError, Message: "invalid JSON at line 1 column 4: invalid character '{' after top-level value"}}},
		{name: "wrong container type", doc: `{"backupPVC":["gold"]}`, want: []Finding{
			{Path: "$.backupPVC", Severity: SeverityError, Message: "expected an object, found an array"}}},
		{name: "integer overflow", doc: `{"loadConcurrency":{"globalConfig":1e100}}`, want: []Finding{
			{Path: "$.loadConcurrency.globalConfig", Severity: SeverityError, Message: "expected an integer in range for int, found a number 1e100"}}},
		{name: "B1 empty class key and empty names", doc: `{"backupPVC":{"":{"readOnly":true,"secretNames":[""]}}}`, want: []Finding{
			{Path: `$.backupPVC[""]`, Severity: SeverityWarning, Message: "empty source storage class name: no PVC's class matches it (the lookup is an exact match, no wildcard)"},
			{Path: `$.backupPVC[""].secretNames[0]`, Severity: SeverityWarning, Message: "empty secret name: the copy will fail and the expose with it"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Lint([]byte(tc.doc))
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Lint(%s):\n got  %v\n want %v", tc.doc, got, tc.want)
			}
			if _, err := Parse([]byte(tc.doc)); (err != nil) != HasErrors(got) {
				t.Fatalf("A5 lint errors (%v) disagree with Parse error (%v)", HasErrors(got), err)
			}
		})
	}
}

func TestLintDocumentationSample(t *testing.T) {
	// The sample of the Velero page, verbatim: it is valid, but its storageClass names a class
	// with capitals, which Kubernetes object names cannot have.
	doc := `{
    "backupPVC": {
        "storage-class-1": {"storageClass": "backupPVC-storage-class", "readOnly": true},
        "storage-class-2": {"storageClass": "backupPVC-storage-class"},
        "storage-class-3": {"readOnly": true}
    }
}`
	if got := Lint([]byte(doc)); HasErrors(got) {
		t.Fatalf("documentation sample has errors: %v", got)
	}
}

func TestLintConfigMapA4(t *testing.T) {
	tests := []struct {
		name string
		cm   *corev1.ConfigMap
		want string
	}{
		{name: "A4 two keys", cm: cm(map[string]string{"a": "{}", "b": "{}"}, nil), want: "error data: 2 keys [a b]"},
		{name: "A4 no data", cm: cm(nil, nil), want: "error data: no data"},
		{name: "A4 binaryData only", cm: cm(nil, map[string][]byte{"a": nil}), want: "error binaryData: Velero reads only data"},
		{name: "A5 document finding is prefixed", cm: cm(map[string]string{"cfg.json": `{"backupPVC":{"g":{"readonly":true}}}`}, nil),
			want: `warning data["cfg.json"].backupPVC.g.readonly`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := LintConfigMap(tc.cm)
			if len(got) != 1 || !strings.HasPrefix(got[0].String(), tc.want) {
				t.Fatalf("got %v, want one finding starting %q", got, tc.want)
			}
		})
	}
}
