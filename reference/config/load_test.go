package config

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func cm(data map[string]string, binary map[string][]byte) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "node-agent-config"}, Data: data, BinaryData: binary}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		objects []*corev1.ConfigMap
		cmName  string
		want    *NodeAgentConfigs
		wantErr string
	}{
		{name: "A6 no ConfigMap name: defaults", cmName: "", want: &NodeAgentConfigs{}},
		{name: "A4 missing ConfigMap is an error", cmName: "node-agent-config", wantErr: "not found"},
		{name: "A3 A4 one key of any name", cmName: "node-agent-config",
			objects: []*corev1.ConfigMap{cm(map[string]string{"whatever-name": `{"backupPVC":{"gold":{"storageClass":"bronze","readOnly":true}}}`}, nil)},
			want:    &NodeAgentConfigs{BackupPVCConfig: map[string]BackupPVC{"gold": {StorageClass: "bronze", ReadOnly: true}}}},
		{name: "A4 nil data", cmName: "node-agent-config", objects: []*corev1.ConfigMap{cm(nil, nil)}, wantErr: "data is not available in config map node-agent-config"},
		{name: "A4 two keys", cmName: "node-agent-config",
			objects: []*corev1.ConfigMap{cm(map[string]string{"a": "{}", "b": "{}"}, nil)}, wantErr: "2 data keys [a b]"},
		{name: "A4 binaryData only", cmName: "node-agent-config",
			objects: []*corev1.ConfigMap{cm(nil, map[string][]byte{"a": []byte("{}")})}, wantErr: "only binaryData"},
		{name: "A4 invalid JSON", cmName: "node-agent-config",
			objects: []*corev1.ConfigMap{cm(map[string]string{"a": `{"backupPVC":`}, nil)}, wantErr: `key "a"`},
		{name: "A4 empty value", cmName: "node-agent-config",
			objects: []*corev1.ConfigMap{cm(map[string]string{"a": ""}, nil)}, wantErr: "unexpected end of JSON input"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := fake.NewClientBuilder().WithScheme(scheme.Scheme)
			for _, o := range tc.objects {
				b = b.WithObjects(o)
			}
			got, err := Load(context.Background(), b.Build(), "velero", tc.cmName)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("error %v does not wrap ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		want    map[string]BackupPVC
		wantErr bool
	}{
		{name: "A2 all fields", doc: `{"backupPVC":{"gold":{"storageClass":"b","readOnly":true,"spcNoRelabeling":true,
			"annotations":{"k":"v"},"secretNames":["s"],"configMapNames":["c"]}}}`,
			want: map[string]BackupPVC{"gold": {StorageClass: "b", ReadOnly: true, SPCNoRelabeling: true,
				Annotations: map[string]string{"k": "v"}, SecretNames: []string{"s"}, ConfigMapNames: []string{"c"}}}},
		{name: "A5 unknown fields ignored", doc: `{"backupPVC":{"gold":{"readOnlyy":true}},"nope":1}`,
			want: map[string]BackupPVC{"gold": {}}},
		{name: "A5 keys match case-insensitively", doc: `{"BACKUPPVC":{"gold":{"readonly":true,"StorageClass":"x"}}}`,
			want: map[string]BackupPVC{"gold": {ReadOnly: true, StorageClass: "x"}}},
		{name: "A5 last duplicate wins", doc: `{"backupPVC":{"gold":{"readOnly":true,"readOnly":false,"storageClass":"a","storageclass":"b"}}}`,
			want: map[string]BackupPVC{"gold": {StorageClass: "b"}}},
		{name: "A5 string boolean is an error", doc: `{"backupPVC":{"gold":{"readOnly":"true"}}}`, wantErr: true},
		{name: "A5 boolean annotation value is an error", doc: `{"backupPVC":{"gold":{"annotations":{"fast":true}}}}`, wantErr: true},
		{name: "A1 other sections decode", doc: `{"loadConcurrency":{"globalConfig":2},"podLabels":{"a":"b"},"priorityClassName":"p"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.doc))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && !reflect.DeepEqual(got.BackupPVCConfig, tc.want) {
				t.Fatalf("got %+v, want %+v", got.BackupPVCConfig, tc.want)
			}
		})
	}
}

func TestEntryForB1ExactMatch(t *testing.T) {
	cfg := &NodeAgentConfigs{BackupPVCConfig: map[string]BackupPVC{"gold": {ReadOnly: true}, "*": {StorageClass: "x"}}}
	for class, want := range map[string]bool{"gold": true, "Gold": false, "silver": false, "*": true} {
		if _, ok := EntryFor(cfg, class); ok != want {
			t.Errorf("B1 EntryFor(%q) found = %v, want %v", class, ok, want)
		}
	}
	if _, ok := EntryFor(nil, "gold"); ok {
		t.Error("B2 EntryFor(nil config) found an entry")
	}
}
