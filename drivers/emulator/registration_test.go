package emulator

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// The kubelet's side of the plugin registration handshake, over the real socket.
func TestRegistrationHandshake(t *testing.T) {
	tests := []struct {
		name       string
		status     *registerapi.RegistrationStatus
		registered bool
		serveErr   string // "" when Serve keeps running until its context ends
	}{
		{"accepted", &registerapi.RegistrationStatus{PluginRegistered: true}, true, ""},
		{"refused", &registerapi.RegistrationStatus{PluginRegistered: false, Error: "version 0.3.0 not supported"}, false,
			"the kubelet refused the registration of emulator.csi.backuppvc.io: version 0.3.0 not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "emulator.csi.backuppvc.io-reg.sock")
			r := &Registration{Socket: sock, DriverName: DefaultName, Endpoint: "/var/lib/kubelet/plugins/emulator.csi.backuppvc.io/csi.sock", Log: logr.Discard()}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- r.Serve(ctx) }()

			conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			kubelet := registerapi.NewRegistrationClient(conn)
			var info *registerapi.PluginInfo
			deadline := time.Now().Add(10 * time.Second)
			for info == nil {
				if info, err = kubelet.GetInfo(ctx, &registerapi.InfoRequest{}); err != nil && time.Now().After(deadline) {
					t.Fatalf("GetInfo: %v", err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			want := &registerapi.PluginInfo{Type: registerapi.CSIPlugin, Name: DefaultName, Endpoint: r.Endpoint, SupportedVersions: []string{"1.0.0"}}
			if info.Type != want.Type || info.Name != want.Name || info.Endpoint != want.Endpoint || strings.Join(info.SupportedVersions, ",") != "1.0.0" {
				t.Fatalf("GetInfo = %v, want %v", info, want)
			}
			if _, err := kubelet.NotifyRegistrationStatus(ctx, tt.status); err != nil {
				t.Fatal(err)
			}
			if r.Registered() != tt.registered {
				t.Errorf("Registered() = %v, want %v", r.Registered(), tt.registered)
			}
			if tt.serveErr == "" {
				cancel()
			}
			select {
			case err := <-done:
				if got := errString(err); !strings.Contains(got, tt.serveErr) || (tt.serveErr == "") != (err == nil) {
					t.Errorf("Serve() = %q, want %q", got, tt.serveErr)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Serve did not return")
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
