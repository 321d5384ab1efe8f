package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Serve runs the driver's gRPC services on endpoint (unix:///path or a path) until ctx ends,
// and, when statusAddr is set, a JSON status page of the capacity in use at http://statusAddr/.
func Serve(ctx context.Context, d *Driver, endpoint, statusAddr string) error {
	path := strings.TrimPrefix(endpoint, "unix://")
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("emulator: remove stale socket %s: %w", path, err)
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("emulator: listen on %s: %w", path, err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(d.logCalls))
	csi.RegisterIdentityServer(srv, d)
	csi.RegisterControllerServer(srv, d)
	csi.RegisterNodeServer(srv, d)

	var httpSrv *http.Server
	if statusAddr != "" {
		network, addr := "tcp", statusAddr
		if path, ok := strings.CutPrefix(statusAddr, "unix://"); ok {
			network, addr = "unix", path
			_ = os.Remove(path)
		}
		hl, err := net.Listen(network, addr)
		if err != nil {
			lis.Close()
			return fmt.Errorf("emulator: status address %s: %w", statusAddr, err)
		}
		httpSrv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(d.Usage())
		}), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = httpSrv.Serve(hl) }()
		d.log.Info("status page", "address", hl.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	d.log.Info("serving", "endpoint", path, "name", d.opts.Name, "stateDir", d.opts.StateDir, "capacityBytes", d.opts.CapacityBytes)
	select {
	case <-ctx.Done():
		srv.GracefulStop()
		if httpSrv != nil {
			_ = httpSrv.Close()
		}
		_ = os.Remove(path)
		return nil
	case err := <-errc:
		if errors.Is(err, grpc.ErrServerStopped) {
			return nil
		}
		return fmt.Errorf("emulator: serve: %w", err)
	}
}

// logCalls logs every CSI call that is not a probe, with its outcome and duration.
func (d *Driver) logCalls(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	if !strings.HasSuffix(info.FullMethod, "/Probe") {
		d.log.V(1).Info("call", "method", info.FullMethod, "code", status.Code(err).String(), "took", time.Since(start).String())
		if err != nil {
			d.log.Info("call failed", "method", info.FullMethod, "error", err.Error())
		}
	}
	return resp, err
}
