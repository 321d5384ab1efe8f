package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/go-logr/logr"
)

// DefaultName is the driver name the profile and StorageClasses use.
const DefaultName = "emulator.csi.backuppvc.io"

// Options configures a Driver.
type Options struct {
	Name          string
	Version       string
	NodeID        string
	StateDir      string
	CapacityBytes int64
	Log           logr.Logger
}

// Driver implements the CSI Identity, Controller and Node services.
type Driver struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedControllerServer
	csi.UnimplementedNodeServer

	opts  Options
	log   logr.Logger
	mu    sync.Mutex
	store *store
	// copying holds the volumes ("vol/<name>") and snapshots ("snap/<name>") whose data is being
	// copied with mu released, so a retried call waits for that copy instead of starting another.
	copying map[string]chan struct{}
}

// New opens (or creates) the state under opts.StateDir.
func New(opts Options) (*Driver, error) {
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.NodeID == "" {
		opts.NodeID = "emulator-node"
	}
	if opts.CapacityBytes <= 0 {
		opts.CapacityBytes = 100 * gib
	}
	if opts.StateDir == "" {
		return nil, fmt.Errorf("emulator: state dir is required")
	}
	s, err := openStore(opts.StateDir)
	if err != nil {
		return nil, err
	}
	log := opts.Log
	if log.GetSink() == nil {
		log = logr.Discard()
	}
	return &Driver{opts: opts, log: log, store: s, copying: map[string]chan struct{}{}}, nil
}

func idFor(kind, name string) string {
	sum := sha256.Sum256([]byte(name))
	return kind + "-" + hex.EncodeToString(sum[:])[:16]
}

// Usage is the capacity the volumes consume: size x replicas each.
type Usage struct {
	CapacityBytes int64          `json:"capacityBytes"`
	UsedBytes     int64          `json:"usedBytes"`
	Volumes       []VolumeUsage  `json:"volumes"`
	Snapshots     int            `json:"snapshots"`
	ByClassParams map[string]int `json:"-"`
}

// VolumeUsage is one volume's share of the capacity.
type VolumeUsage struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	SizeBytes int64  `json:"sizeBytes"`
	Replicas  int    `json:"replicas"`
	UsedBytes int64  `json:"usedBytes"`
	ReadOnly  bool   `json:"readOnly"`
}

// Usage reports the capacity in use now.
func (d *Driver) Usage() Usage {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.usageLocked()
}

func (d *Driver) usageLocked() Usage {
	u := Usage{CapacityBytes: d.opts.CapacityBytes, Snapshots: len(d.store.st.Snapshots)}
	for _, v := range d.store.st.Volumes {
		used := v.SizeBytes * int64(v.Replicas)
		u.UsedBytes += used
		u.Volumes = append(u.Volumes, VolumeUsage{ID: v.ID, Name: v.Name, SizeBytes: v.SizeBytes, Replicas: v.Replicas, UsedBytes: used, ReadOnly: v.ReadOnly})
	}
	return u
}
