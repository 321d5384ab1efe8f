package emulator

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const defaultVolumeSize = gib

// ControllerGetCapabilities: volumes and snapshots, listing snapshots, capacity. No attach (the
// lane's CSIDriver says attachRequired: false), no clone of volumes, no expansion.
func (d *Driver) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	var caps []*csi.ControllerServiceCapability
	for _, c := range []csi.ControllerServiceCapability_RPC_Type{
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_SNAPSHOT,
		csi.ControllerServiceCapability_RPC_LIST_SNAPSHOTS,
		csi.ControllerServiceCapability_RPC_GET_CAPACITY,
	} {
		caps = append(caps, &csi.ControllerServiceCapability{Type: &csi.ControllerServiceCapability_Rpc{Rpc: &csi.ControllerServiceCapability_RPC{Type: c}}})
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: caps}, nil
}

func readerOnly(caps []*csi.VolumeCapability) bool {
	for _, c := range caps {
		if c.GetAccessMode().GetMode() == csi.VolumeCapability_AccessMode_MULTI_NODE_READER_ONLY ||
			c.GetAccessMode().GetMode() == csi.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY {
			return true
		}
	}
	return false
}

func validateCaps(caps []*csi.VolumeCapability) (block bool, err error) {
	if len(caps) == 0 {
		return false, status.Error(codes.InvalidArgument, "volume capabilities are required")
	}
	for _, c := range caps {
		if c.GetAccessMode() == nil {
			return false, status.Error(codes.InvalidArgument, "volume capability has no access mode")
		}
		switch {
		case c.GetBlock() != nil:
			block = true
		case c.GetMount() != nil:
		default:
			return false, status.Error(codes.InvalidArgument, "volume capability is neither block nor mount")
		}
	}
	return block, nil
}

// CreateVolume makes an empty volume or one from a snapshot, with the class's behaviour.
func (d *Driver) CreateVolume(ctx context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume name is required")
	}
	block, err := validateCaps(req.GetVolumeCapabilities())
	if err != nil {
		return nil, err
	}
	params, err := ParseParams(req.GetParameters())
	if err != nil {
		return nil, err
	}
	size := req.GetCapacityRange().GetRequiredBytes()
	limit := req.GetCapacityRange().GetLimitBytes()
	if limit > 0 && size > limit {
		return nil, status.Errorf(codes.InvalidArgument, "required %d bytes exceed the limit %d", size, limit)
	}
	if size == 0 {
		size = defaultVolumeSize
		if limit > 0 && limit < size {
			size = limit
		}
	}
	if req.GetVolumeContentSource().GetVolume() != nil {
		return nil, status.Error(codes.InvalidArgument, "volume cloning is not supported; use a snapshot")
	}
	readOnly := readerOnly(req.GetVolumeCapabilities())
	snapID := req.GetVolumeContentSource().GetSnapshot().GetSnapshotId()

	if err := d.lockAfterCopy(ctx, "vol/"+req.GetName()); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()

	id := idFor("vol", req.GetName())
	if v, ok := d.store.st.Volumes[id]; ok {
		if v.SizeBytes < size || (limit > 0 && v.SizeBytes > limit) || v.SourceSnapshot != snapID || v.Block != block {
			return nil, status.Errorf(codes.AlreadyExists, "volume %q exists with different size, source or mode", req.GetName())
		}
		return d.volumeResponse(v), nil
	}

	var snap *Snapshot
	if snapID != "" {
		var ok bool
		if snap, ok = d.store.st.Snapshots[snapID]; !ok {
			return nil, status.Errorf(codes.NotFound, "snapshot %s not found", snapID)
		}
		if snap.Block != block {
			return nil, status.Errorf(codes.InvalidArgument, "snapshot %s is %s, the volume asked for %s", snapID, mode(snap.Block), mode(block))
		}
		if readOnly && !params.ReadOnlyFromSnapshot {
			return nil, status.Errorf(codes.InvalidArgument,
				"this storage class (%s=false) cannot create read-only volumes from snapshots: use a class that can, or a writable access mode", ParamReadOnlyFromSnapshot)
		}
		size = max(size, snap.SizeBytes)
	}
	u := d.usageLocked()
	if need := size * int64(params.Replicas); u.UsedBytes+need > u.CapacityBytes {
		return nil, status.Errorf(codes.ResourceExhausted, "need %d bytes (%d x %d replicas), %d of %d free", need, size, params.Replicas, u.CapacityBytes-u.UsedBytes, u.CapacityBytes)
	}

	v := &Volume{ID: id, Name: req.GetName(), SizeBytes: size, Replicas: params.Replicas, Block: block, ReadOnly: readOnly,
		SourceSnapshot: snapID, Parameters: req.GetParameters()}
	start := time.Now()
	switch {
	case snap != nil && readOnly:
		v.SharesSnapshot = true // read-only from a snapshot: no copy, immediate
	case snap != nil:
		if err := d.slowClone(ctx, v, snap, params); err != nil {
			return nil, err
		}
	default:
		if err := makeData(d.store.volumePath(v), block, size); err != nil {
			return nil, status.Errorf(codes.Internal, "create volume data: %v", err)
		}
	}
	d.store.st.Volumes[id] = v
	if err := d.store.save(); err != nil {
		return nil, status.Errorf(codes.Internal, "save state: %v", err)
	}
	u = d.usageLocked()
	d.log.Info("volume created", "name", v.Name, "id", id, "sizeBytes", size, "replicas", v.Replicas, "readOnly", readOnly,
		"fromSnapshot", snapID, "sharesSnapshot", v.SharesSnapshot, "took", time.Since(start).String(),
		"capacityUsedBytes", u.UsedBytes, "capacityBytes", u.CapacityBytes)
	return d.volumeResponse(v), nil
}

// slowClone copies the snapshot's data and takes the class's clone cost; called and returns with
// d.mu held.
func (d *Driver) slowClone(ctx context.Context, v *Volume, snap *Snapshot, p ClassParams) error {
	src, dst := d.store.snapshotPath(snap), d.store.volumePath(v)
	return d.copyUnlocked("vol/"+v.Name, dst, func() error {
		if err := copyData(src, dst, v.Block); err != nil {
			return status.Errorf(codes.Internal, "clone snapshot %s: %v", snap.ID, err)
		}
		timer := time.NewTimer(p.cloneDuration(v.SizeBytes))
		defer timer.Stop()
		select {
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	})
}

// copyUnlocked runs copy with d.mu released, so that a copy of a large volume (a 1 GiB Block
// image takes seconds) does not stall every other call of every sidecar; calls to the same key
// wait for it (lockAfterCopy). Called and returns with d.mu held; on error dst is removed.
func (d *Driver) copyUnlocked(key, dst string, copy func() error) error {
	done := make(chan struct{})
	d.copying[key] = done
	d.mu.Unlock()
	err := copy()
	if err != nil {
		_ = os.RemoveAll(dst)
	}
	d.mu.Lock()
	delete(d.copying, key)
	close(done)
	return err
}

// lockAfterCopy takes d.mu once no copy for key is under way.
func (d *Driver) lockAfterCopy(ctx context.Context, key string) error {
	for {
		d.mu.Lock()
		wait, busy := d.copying[key]
		if !busy {
			return nil
		}
		d.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

func mode(block bool) string {
	if block {
		return "Block"
	}
	return "Filesystem"
}

func (d *Driver) volumeResponse(v *Volume) *csi.CreateVolumeResponse {
	vol := &csi.Volume{VolumeId: v.ID, CapacityBytes: v.SizeBytes, VolumeContext: map[string]string{
		"replicas": strconv.Itoa(v.Replicas), "readOnly": strconv.FormatBool(v.ReadOnly)}}
	if v.SourceSnapshot != "" {
		vol.ContentSource = &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{
			Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: v.SourceSnapshot}}}
	}
	return &csi.CreateVolumeResponse{Volume: vol}
}

// DeleteVolume removes a volume; an unknown ID is already deleted.
func (d *Driver) DeleteVolume(_ context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id is required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.store.st.Volumes[req.GetVolumeId()]
	if !ok {
		return &csi.DeleteVolumeResponse{}, nil
	}
	if !v.SharesSnapshot {
		if err := os.RemoveAll(d.store.volumePath(v)); err != nil {
			return nil, status.Errorf(codes.Internal, "remove volume data: %v", err)
		}
	}
	delete(d.store.st.Volumes, v.ID)
	if err := d.store.save(); err != nil {
		return nil, status.Errorf(codes.Internal, "save state: %v", err)
	}
	u := d.usageLocked()
	d.log.Info("volume deleted", "name", v.Name, "id", v.ID, "capacityUsedBytes", u.UsedBytes, "capacityBytes", u.CapacityBytes)
	return &csi.DeleteVolumeResponse{}, nil
}

// ValidateVolumeCapabilities confirms the capabilities of an existing volume.
func (d *Driver) ValidateVolumeCapabilities(_ context.Context, req *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id is required")
	}
	if _, err := validateCaps(req.GetVolumeCapabilities()); err != nil {
		return nil, err
	}
	d.mu.Lock()
	_, ok := d.store.st.Volumes[req.GetVolumeId()]
	d.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.NotFound, "volume %s not found", req.GetVolumeId())
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeContext: req.GetVolumeContext(), VolumeCapabilities: req.GetVolumeCapabilities(), Parameters: req.GetParameters()}}, nil
}

// GetCapacity reports the free capacity, after replicas.
func (d *Driver) GetCapacity(context.Context, *csi.GetCapacityRequest) (*csi.GetCapacityResponse, error) {
	u := d.Usage()
	return &csi.GetCapacityResponse{AvailableCapacity: u.CapacityBytes - u.UsedBytes}, nil
}

// CreateSnapshot copies the volume's data into a ready snapshot.
func (d *Driver) CreateSnapshot(ctx context.Context, req *csi.CreateSnapshotRequest) (*csi.CreateSnapshotResponse, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "snapshot name is required")
	}
	if req.GetSourceVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "source volume id is required")
	}
	if err := d.lockAfterCopy(ctx, "snap/"+req.GetName()); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	id := idFor("snap", req.GetName())
	if s, ok := d.store.st.Snapshots[id]; ok {
		if s.SourceVolume != req.GetSourceVolumeId() {
			return nil, status.Errorf(codes.AlreadyExists, "snapshot %q exists for another volume", req.GetName())
		}
		return &csi.CreateSnapshotResponse{Snapshot: snapshotProto(s)}, nil
	}
	v, ok := d.store.st.Volumes[req.GetSourceVolumeId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "source volume %s not found", req.GetSourceVolumeId())
	}
	s := &Snapshot{ID: id, Name: req.GetName(), SourceVolume: v.ID, SizeBytes: v.SizeBytes, Block: v.Block, CreatedAt: time.Now().UTC()}
	// The volume's class may make its snapshots report another size (the VolumeSnapshot's
	// restoreSize); its parameters were checked when the volume was made.
	if p, err := ParseParams(v.Parameters); err == nil && p.SnapshotRestoreSizeSet {
		s.SizeBytes = p.SnapshotRestoreSize
	}
	src, dst := d.store.volumePath(v), d.store.snapshotPath(s)
	if err := d.copyUnlocked("snap/"+req.GetName(), dst, func() error { return copyData(src, dst, v.Block) }); err != nil {
		return nil, status.Errorf(codes.Internal, "copy volume data: %v", err)
	}
	d.store.st.Snapshots[id] = s
	if err := d.store.save(); err != nil {
		return nil, status.Errorf(codes.Internal, "save state: %v", err)
	}
	d.log.Info("snapshot created", "name", s.Name, "id", id, "sourceVolume", v.ID, "sizeBytes", s.SizeBytes)
	return &csi.CreateSnapshotResponse{Snapshot: snapshotProto(s)}, nil
}

func snapshotProto(s *Snapshot) *csi.Snapshot {
	return &csi.Snapshot{SnapshotId: s.ID, SourceVolumeId: s.SourceVolume, SizeBytes: s.SizeBytes,
		CreationTime: timestamppb.New(s.CreatedAt), ReadyToUse: true}
}

// DeleteSnapshot removes a snapshot; one whose data read-only volumes still share is refused
// with FailedPrecondition (the snapshotter retries once those volumes are gone).
func (d *Driver) DeleteSnapshot(_ context.Context, req *csi.DeleteSnapshotRequest) (*csi.DeleteSnapshotResponse, error) {
	if req.GetSnapshotId() == "" {
		return nil, status.Error(codes.InvalidArgument, "snapshot id is required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.store.st.Snapshots[req.GetSnapshotId()]
	if !ok {
		return &csi.DeleteSnapshotResponse{}, nil
	}
	var users []string
	for _, v := range d.store.st.Volumes {
		if v.SharesSnapshot && v.SourceSnapshot == s.ID {
			users = append(users, v.Name)
		}
	}
	if len(users) > 0 {
		sort.Strings(users)
		return nil, status.Errorf(codes.FailedPrecondition, "snapshot %s is the data of read-only volumes %v: delete them first", s.ID, users)
	}
	if err := os.RemoveAll(d.store.snapshotPath(s)); err != nil {
		return nil, status.Errorf(codes.Internal, "remove snapshot data: %v", err)
	}
	delete(d.store.st.Snapshots, s.ID)
	if err := d.store.save(); err != nil {
		return nil, status.Errorf(codes.Internal, "save state: %v", err)
	}
	d.log.Info("snapshot deleted", "name", s.Name, "id", s.ID)
	return &csi.DeleteSnapshotResponse{}, nil
}

// ListSnapshots lists by snapshot ID, by source volume, or all, in pages.
func (d *Driver) ListSnapshots(_ context.Context, req *csi.ListSnapshotsRequest) (*csi.ListSnapshotsResponse, error) {
	d.mu.Lock()
	var all []*Snapshot
	for _, s := range d.store.st.Snapshots {
		if (req.GetSnapshotId() == "" || s.ID == req.GetSnapshotId()) && (req.GetSourceVolumeId() == "" || s.SourceVolume == req.GetSourceVolumeId()) {
			all = append(all, s)
		}
	}
	d.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	start := 0
	if tok := req.GetStartingToken(); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(all) {
			return nil, status.Errorf(codes.Aborted, "invalid starting token %q", tok)
		}
		start = n
	}
	end := len(all)
	if m := int(req.GetMaxEntries()); m > 0 && start+m < end {
		end = start + m
	}
	resp := &csi.ListSnapshotsResponse{}
	for _, s := range all[start:end] {
		resp.Entries = append(resp.Entries, &csi.ListSnapshotsResponse_Entry{Snapshot: snapshotProto(s)})
	}
	if end < len(all) {
		resp.NextToken = fmt.Sprint(end)
	}
	return resp, nil
}
