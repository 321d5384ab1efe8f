package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// Registration tells the kubelet about the driver, as node-driver-registrar does for other
// drivers (it cannot be built from the Go module proxy): the kubelet watches its plugins_registry
// folder, calls GetInfo on the socket it finds there, dials the endpoint it is given and calls
// NodeGetInfo, then reports the outcome through NotifyRegistrationStatus.
type Registration struct {
	registerapi.UnimplementedRegistrationServer

	// Socket is where to listen, inside the kubelet's plugins_registry folder.
	Socket string
	// DriverName and Endpoint (the driver's socket as the kubelet sees it) answer GetInfo.
	DriverName, Endpoint string
	Log                  logr.Logger

	mu     sync.Mutex
	status *registerapi.RegistrationStatus
	failed chan error
}

// GetInfo: a CSI plugin, its name and endpoint.
func (r *Registration) GetInfo(context.Context, *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	return &registerapi.PluginInfo{Type: registerapi.CSIPlugin, Name: r.DriverName, Endpoint: r.Endpoint,
		SupportedVersions: []string{"1.0.0"}}, nil
}

// NotifyRegistrationStatus records the kubelet's verdict; a refusal ends Serve with its error,
// so the container restarts and the refusal shows in its log and restart count.
func (r *Registration) NotifyRegistrationStatus(_ context.Context, s *registerapi.RegistrationStatus) (*registerapi.RegistrationStatusResponse, error) {
	r.mu.Lock()
	r.status = s
	r.mu.Unlock()
	if s.PluginRegistered {
		r.Log.Info("registered with the kubelet", "name", r.DriverName, "endpoint", r.Endpoint)
	} else {
		err := fmt.Errorf("emulator: the kubelet refused the registration of %s: %s", r.DriverName, s.Error)
		r.Log.Error(err, "registration refused")
		select {
		case r.failed <- err:
		default:
		}
	}
	return &registerapi.RegistrationStatusResponse{}, nil
}

// Registered says whether the kubelet has confirmed the registration.
func (r *Registration) Registered() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status != nil && r.status.PluginRegistered
}

// Serve listens on Socket until ctx ends (removing the socket, which unregisters the driver) or
// the kubelet refuses the registration.
func (r *Registration) Serve(ctx context.Context) error {
	if r.Socket == "" || r.DriverName == "" || r.Endpoint == "" {
		return errors.New("emulator: registration needs a socket, a driver name and the endpoint the kubelet dials")
	}
	r.failed = make(chan error, 1)
	if err := os.MkdirAll(filepath.Dir(r.Socket), 0o750); err != nil {
		return fmt.Errorf("emulator: registration folder: %w", err)
	}
	if err := os.Remove(r.Socket); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("emulator: remove stale registration socket %s: %w", r.Socket, err)
	}
	lis, err := net.Listen("unix", r.Socket)
	if err != nil {
		return fmt.Errorf("emulator: registration socket %s: %w", r.Socket, err)
	}
	srv := grpc.NewServer()
	registerapi.RegisterRegistrationServer(srv, r)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	r.Log.Info("waiting for the kubelet to register the driver", "socket", r.Socket)
	defer os.Remove(r.Socket)
	select {
	case <-ctx.Done():
		srv.Stop()
		return nil
	case err := <-r.failed:
		srv.GracefulStop() // lets the kubelet's NotifyRegistrationStatus call return first
		return err
	case err := <-errc:
		return fmt.Errorf("emulator: registration server: %w", err)
	}
}
