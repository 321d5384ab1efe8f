package moverreport

import "testing"

func TestParse(t *testing.T) {
	r, err := Parse(`{"dataUpload":"d","volumePath":"/v","volumeMode":"Filesystem","files":1,"bytes":2,"write":"failed","writeError":"open /v/x: read-only file system"}`)
	if err != nil || r.Write != "failed" || r.WriteError == "" {
		t.Errorf("Parse = %+v, %v", r, err)
	}
	if _, err := Parse("not json"); err == nil {
		t.Error("Parse accepted a message that is not a report")
	}
}
