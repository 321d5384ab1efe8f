package emulator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func newDriver(t testing.TB, dir string) *Driver {
	t.Helper()
	d, err := New(Options{StateDir: dir, CapacityBytes: 10 * gib, Log: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func caps(mode csi.VolumeCapability_AccessMode_Mode, block bool) []*csi.VolumeCapability {
	c := &csi.VolumeCapability{AccessMode: &csi.VolumeCapability_AccessMode{Mode: mode}}
	if block {
		c.AccessType = &csi.VolumeCapability_Block{Block: &csi.VolumeCapability_BlockVolume{}}
	} else {
		c.AccessType = &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{}}
	}
	return []*csi.VolumeCapability{c}
}

const (
	rwo = csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER
	rox = csi.VolumeCapability_AccessMode_MULTI_NODE_READER_ONLY
)

// sourceSnapshot makes a 1 GiB volume holding one file and snapshots it.
func sourceSnapshot(t testing.TB, d *Driver, block bool) string {
	t.Helper()
	ctx := context.Background()
	v, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "src", VolumeCapabilities: caps(rwo, block),
		CapacityRange: &csi.CapacityRange{RequiredBytes: gib}})
	if err != nil {
		t.Fatal(err)
	}
	if !block {
		vol := d.store.st.Volumes[v.Volume.VolumeId]
		if err := os.WriteFile(filepath.Join(d.store.volumePath(vol), "data.txt"), []byte("payload"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := d.CreateSnapshot(ctx, &csi.CreateSnapshotRequest{Name: "snap", SourceVolumeId: v.Volume.VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	return s.Snapshot.SnapshotId
}

func fromSnapshot(name, snap string, mode csi.VolumeCapability_AccessMode_Mode, params map[string]string) *csi.CreateVolumeRequest {
	return &csi.CreateVolumeRequest{Name: name, VolumeCapabilities: caps(mode, false), Parameters: params,
		CapacityRange: &csi.CapacityRange{RequiredBytes: gib},
		VolumeContentSource: &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{
			Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: snap}}}}
}

func TestParseParams(t *testing.T) {
	tests := []struct {
		name    string
		in      map[string]string
		want    ClassParams
		wantErr string
	}{
		{name: "defaults", in: nil, want: DefaultParams()},
		{name: "all set", in: map[string]string{"readOnlyFromSnapshot": "false", "cloneCostPerGiB": "2s", "replicas": "3"},
			want: ClassParams{ReadOnlyFromSnapshot: false, CloneCostPerGiB: 2 * time.Second, Replicas: 3}},
		{name: "sidecar parameters are not ours", in: map[string]string{"csi.storage.k8s.io/pvc/name": "x"}, want: DefaultParams()},
		{name: "unknown parameter is named", in: map[string]string{"replica": "3"}, wantErr: `unknown StorageClass parameter "replica"`},
		{name: "bad boolean", in: map[string]string{"readOnlyFromSnapshot": "no"}, wantErr: `readOnlyFromSnapshot="no"`},
		{name: "bad duration", in: map[string]string{"cloneCostPerGiB": "2"}, wantErr: `cloneCostPerGiB="2"`},
		{name: "zero replicas", in: map[string]string{"replicas": "0"}, wantErr: `replicas="0"`},
		{name: "snapshot restore size", in: map[string]string{"snapshotRestoreSize": "2Gi"}, want: ClassParams{ReadOnlyFromSnapshot: true, Replicas: 1, SnapshotRestoreSize: 2 * gib, SnapshotRestoreSizeSet: true}},
		{name: "no snapshot restore size", in: map[string]string{"snapshotRestoreSize": "0"}, want: ClassParams{ReadOnlyFromSnapshot: true, Replicas: 1, SnapshotRestoreSizeSet: true}},
		{name: "bad snapshot restore size", in: map[string]string{"snapshotRestoreSize": "-1Gi"}, wantErr: `snapshotRestoreSize="-1Gi"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseParams(tc.in)
			if tc.wantErr != "" {
				if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want InvalidArgument with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// A class's snapshotRestoreSize is the size its volumes' snapshots report (the VolumeSnapshot's
// restoreSize), and a volume made from such a snapshot is at least that large.
func TestSnapshotRestoreSize(t *testing.T) {
	d := newDriver(t, t.TempDir())
	ctx := context.Background()
	params := map[string]string{ParamSnapshotRestoreSize: "2Gi"}
	v, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "src", VolumeCapabilities: caps(rwo, false), Parameters: params,
		CapacityRange: &csi.CapacityRange{RequiredBytes: gib}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Volume.CapacityBytes != gib {
		t.Fatalf("volume of %d bytes, want 1 GiB: the parameter sizes snapshots, not volumes", v.Volume.CapacityBytes)
	}
	s, err := d.CreateSnapshot(ctx, &csi.CreateSnapshotRequest{Name: "snap", SourceVolumeId: v.Volume.VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	if s.Snapshot.SizeBytes != 2*gib {
		t.Fatalf("snapshot reports %d bytes, want 2 GiB", s.Snapshot.SizeBytes)
	}
	r, err := d.CreateVolume(ctx, fromSnapshot("restored", s.Snapshot.SnapshotId, rwo, params))
	if err != nil {
		t.Fatal(err)
	}
	if r.Volume.CapacityBytes != 2*gib {
		t.Errorf("volume from the snapshot of %d bytes, want the snapshot's 2 GiB", r.Volume.CapacityBytes)
	}
	// "0": the snapshot reports no size; a volume from it is the size asked for.
	none := map[string]string{ParamSnapshotRestoreSize: "0"}
	v0, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "src0", VolumeCapabilities: caps(rwo, false), Parameters: none,
		CapacityRange: &csi.CapacityRange{RequiredBytes: gib}})
	if err != nil {
		t.Fatal(err)
	}
	s0, err := d.CreateSnapshot(ctx, &csi.CreateSnapshotRequest{Name: "snap0", SourceVolumeId: v0.Volume.VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	if s0.Snapshot.SizeBytes != 0 {
		t.Fatalf("snapshot reports %d bytes, want none (0)", s0.Snapshot.SizeBytes)
	}
	r0, err := d.CreateVolume(ctx, fromSnapshot("restored0", s0.Snapshot.SnapshotId, rwo, none))
	if err != nil {
		t.Fatal(err)
	}
	if r0.Volume.CapacityBytes != gib {
		t.Errorf("volume from a snapshot without size of %d bytes, want the 1 GiB asked for", r0.Volume.CapacityBytes)
	}
}

func TestReadOnlyFromSnapshot(t *testing.T) {
	tests := []struct {
		name     string
		mode     csi.VolumeCapability_AccessMode_Mode
		params   map[string]string
		wantCode codes.Code
		shares   bool
	}{
		{name: "ReadOnlyMany from snapshot shares its data", mode: rox, shares: true},
		{name: "refused where the class cannot", mode: rox, params: map[string]string{"readOnlyFromSnapshot": "false"}, wantCode: codes.InvalidArgument},
		{name: "writable from the same class is a clone", mode: rwo, params: map[string]string{"readOnlyFromSnapshot": "false"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, t.TempDir())
			snap := sourceSnapshot(t, d, false)
			resp, err := d.CreateVolume(context.Background(), fromSnapshot("v", snap, tc.mode, tc.params))
			if status.Code(err) != tc.wantCode {
				t.Fatalf("code %v (%v), want %v", status.Code(err), err, tc.wantCode)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "cannot create read-only volumes from snapshots") {
					t.Errorf("message %q does not say why", err)
				}
				return
			}
			v := d.store.st.Volumes[resp.Volume.VolumeId]
			if v.SharesSnapshot != tc.shares {
				t.Errorf("sharesSnapshot = %v, want %v", v.SharesSnapshot, tc.shares)
			}
			if got, err := os.ReadFile(filepath.Join(d.store.volumePath(v), "data.txt")); err != nil || string(got) != "payload" {
				t.Errorf("volume data = %q, %v; want the snapshot's", got, err)
			}
			if resp.Volume.ContentSource.GetSnapshot().GetSnapshotId() != snap {
				t.Error("CreateVolume did not return its content source")
			}
		})
	}
}

func TestCloneCostOnlyForWritableVolumes(t *testing.T) {
	d := newDriver(t, t.TempDir())
	snap := sourceSnapshot(t, d, false)
	params := map[string]string{"cloneCostPerGiB": "300ms"}
	start := time.Now()
	if _, err := d.CreateVolume(context.Background(), fromSnapshot("rox", snap, rox, params)); err != nil {
		t.Fatal(err)
	}
	roxTook := time.Since(start)
	start = time.Now()
	if _, err := d.CreateVolume(context.Background(), fromSnapshot("rwo", snap, rwo, params)); err != nil {
		t.Fatal(err)
	}
	rwoTook := time.Since(start)
	// A lower bound only: the writable clone must have paid its cost; the read-only one must not.
	if rwoTook < 300*time.Millisecond {
		t.Errorf("writable 1 GiB clone took %v, want at least the 300ms clone cost", rwoTook)
	}
	if roxTook >= 300*time.Millisecond {
		t.Errorf("read-only volume from snapshot took %v: it paid the clone cost", roxTook)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := d.CreateVolume(ctx, fromSnapshot("slow", snap, rwo, map[string]string{"cloneCostPerGiB": "1h"}))
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("a canceled clone returned %v, want DeadlineExceeded", err)
	}
	if _, ok := d.store.st.Volumes[idFor("vol", "slow")]; ok {
		t.Error("a canceled clone left a volume")
	}
}

func TestReplicasConsumeCapacity(t *testing.T) {
	d := newDriver(t, t.TempDir())
	for _, r := range []struct{ name, replicas string }{{"one", "1"}, {"three", "3"}} {
		if _, err := d.CreateVolume(context.Background(), &csi.CreateVolumeRequest{Name: r.name, VolumeCapabilities: caps(rwo, false),
			CapacityRange: &csi.CapacityRange{RequiredBytes: gib}, Parameters: map[string]string{"replicas": r.replicas}}); err != nil {
			t.Fatal(err)
		}
	}
	u := d.Usage()
	if u.UsedBytes != 4*gib {
		t.Fatalf("used %d bytes, want 4 GiB (1 GiB x 1 + 1 GiB x 3)", u.UsedBytes)
	}
	c, _ := d.GetCapacity(context.Background(), &csi.GetCapacityRequest{})
	if c.AvailableCapacity != 6*gib {
		t.Errorf("GetCapacity %d, want 6 GiB", c.AvailableCapacity)
	}
	_, err := d.CreateVolume(context.Background(), &csi.CreateVolumeRequest{Name: "big", VolumeCapabilities: caps(rwo, false),
		CapacityRange: &csi.CapacityRange{RequiredBytes: 3 * gib}, Parameters: map[string]string{"replicas": "3"}})
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("9 GiB into 6 GiB free: %v, want ResourceExhausted", err)
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	d := newDriver(t, dir)
	snap := sourceSnapshot(t, d, true)
	v, err := d.CreateVolume(context.Background(), &csi.CreateVolumeRequest{Name: "b", VolumeCapabilities: caps(rox, true),
		VolumeContentSource: &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: snap}}}})
	if err != nil {
		t.Fatal(err)
	}
	again := newDriver(t, dir)
	if got := again.Usage(); got.UsedBytes != d.Usage().UsedBytes || got.Snapshots != 1 || len(got.Volumes) != 2 {
		t.Fatalf("after restart: %+v", got)
	}
	_, err = again.DeleteSnapshot(context.Background(), &csi.DeleteSnapshotRequest{SnapshotId: snap})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("deleting a snapshot a read-only volume shares: %v, want FailedPrecondition", err)
	}
	if _, err := again.DeleteVolume(context.Background(), &csi.DeleteVolumeRequest{VolumeId: v.Volume.VolumeId}); err != nil {
		t.Fatal(err)
	}
	if _, err := again.DeleteSnapshot(context.Background(), &csi.DeleteSnapshotRequest{SnapshotId: snap}); err != nil {
		t.Fatalf("snapshot with no users: %v", err)
	}
}

func TestPublishReadOnlyIsEnforced(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("bind mounts need root")
	}
	d := newDriver(t, t.TempDir())
	snap := sourceSnapshot(t, d, false)
	ro, err := d.CreateVolume(context.Background(), fromSnapshot("ro", snap, rox, nil))
	if err != nil {
		t.Fatal(err)
	}
	rw, err := d.CreateVolume(context.Background(), fromSnapshot("rw", snap, rwo, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id       string
		readonly bool
		wantErr  error
	}{{ro.Volume.VolumeId, false, syscall.EROFS}, {rw.Volume.VolumeId, true, syscall.EROFS}, {rw.Volume.VolumeId, false, nil}} {
		target := filepath.Join(t.TempDir(), "mnt")
		if _, err := d.NodePublishVolume(context.Background(), &csi.NodePublishVolumeRequest{VolumeId: tc.id, TargetPath: target,
			VolumeCapability: caps(rwo, false)[0], Readonly: tc.readonly}); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(target, "data.txt")); string(got) != "payload" {
			t.Errorf("published volume reads %q", got)
		}
		werr := os.WriteFile(filepath.Join(target, "new.txt"), []byte("x"), 0o644)
		if !errors.Is(werr, tc.wantErr) && !(tc.wantErr == nil && werr == nil) {
			t.Errorf("volume %s readonly=%v: write error %v, want %v", tc.id, tc.readonly, werr, tc.wantErr)
		}
		if _, err := d.NodeUnpublishVolume(context.Background(), &csi.NodeUnpublishVolumeRequest{VolumeId: tc.id, TargetPath: target}); err != nil {
			t.Fatal(err)
		}
		if mounted(target) {
			t.Errorf("%s still mounted", target)
		}
	}
}

// BenchmarkCreateVolumeFromSnapshot: a 1 GiB volume from a snapshot on a class with a 2s/GiB
// clone cost, read-only (shares the snapshot) versus writable (a full clone).
func BenchmarkCreateVolumeFromSnapshot(b *testing.B) {
	for _, m := range []struct {
		name string
		mode csi.VolumeCapability_AccessMode_Mode
	}{{"ReadOnlyMany", rox}, {"ReadWriteOnce", rwo}} {
		b.Run(m.name, func(b *testing.B) {
			d := newDriver(b, b.TempDir())
			snap := sourceSnapshot(b, d, false)
			for i := 0; b.Loop(); i++ {
				req := fromSnapshot("v"+strings.Repeat("x", i%3)+time.Now().String(), snap, m.mode, map[string]string{"cloneCostPerGiB": "2s"})
				resp, err := d.CreateVolume(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				_, _ = d.DeleteVolume(context.Background(), &csi.DeleteVolumeRequest{VolumeId: resp.Volume.VolumeId})
				b.StartTimer()
			}
		})
	}
}

// A Block volume is published as a loop device node (what a kubelet can hand a container), whose
// writes the kernel refuses when the publish is read-only.
func TestPublishBlockIsALoopDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loop devices need root")
	}
	d := newDriver(t, t.TempDir())
	snap := sourceSnapshot(t, d, true)
	for _, tc := range []struct {
		name      string
		mode      csi.VolumeCapability_AccessMode_Mode
		writeFail bool
	}{{"ReadOnlyMany", rox, true}, {"ReadWriteOnce", rwo, false}} {
		t.Run(tc.name, func(t *testing.T) {
			req := fromSnapshot("b-"+tc.name, snap, tc.mode, nil)
			req.VolumeCapabilities = caps(tc.mode, true)
			v, err := d.CreateVolume(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(t.TempDir(), "dev")
			if _, err := d.NodePublishVolume(context.Background(), &csi.NodePublishVolumeRequest{VolumeId: v.Volume.VolumeId, TargetPath: target,
				VolumeCapability: caps(tc.mode, true)[0], Readonly: tc.mode == rox}); err != nil {
				t.Fatal(err)
			}
			var st unix.Stat_t
			if err := unix.Stat(target, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK || unix.Major(st.Rdev) != loopMajor {
				t.Fatalf("target %s is not a loop device (mode %o, err %v)", target, st.Mode, err)
			}
			f, werr := os.OpenFile(target, os.O_WRONLY, 0)
			if werr == nil {
				_, werr = f.Write([]byte("x"))
				f.Close()
			}
			if (werr != nil) != tc.writeFail {
				t.Errorf("write to the published device: %v, want failure %v", werr, tc.writeFail)
			}
			if _, err := d.NodeUnpublishVolume(context.Background(), &csi.NodeUnpublishVolumeRequest{VolumeId: v.Volume.VolumeId, TargetPath: target}); err != nil {
				t.Fatal(err)
			}
			loop := fmt.Sprintf("/sys/block/loop%d/loop/backing_file", unix.Minor(st.Rdev))
			if data, err := os.ReadFile(loop); err == nil && strings.Contains(string(data), d.opts.StateDir) {
				t.Errorf("loop device still attached to %s after unpublish", strings.TrimSpace(string(data)))
			}
		})
	}
}

// A Block volume is a sparse 1 GiB image: its snapshot and a writable volume cloned from it must
// hold the same bytes and stay sparse (writing the zeros out took seconds per copy, with every
// other CSI call waiting behind it).
func TestBlockCopiesKeepTheDataAndTheHoles(t *testing.T) {
	d := newDriver(t, t.TempDir())
	ctx := context.Background()
	v, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "blk", VolumeCapabilities: caps(rwo, true),
		CapacityRange: &csi.CapacityRange{RequiredBytes: gib}})
	if err != nil {
		t.Fatal(err)
	}
	img := d.store.volumePath(d.store.st.Volumes[v.Volume.VolumeId])
	payload := []byte("data in the middle of the image")
	const at = 300<<20 + 12345
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(payload, at); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s, err := d.CreateSnapshot(ctx, &csi.CreateSnapshotRequest{Name: "blk-snap", SourceVolumeId: v.Volume.VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	req := fromSnapshot("blk-clone", s.Snapshot.SnapshotId, rwo, nil)
	req.VolumeCapabilities = caps(rwo, true)
	c, err := d.CreateVolume(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for what, path := range map[string]string{
		"snapshot": d.store.snapshotPath(d.store.st.Snapshots[s.Snapshot.SnapshotId]),
		"clone":    d.store.volumePath(d.store.st.Volumes[c.Volume.VolumeId]),
	} {
		var st syscall.Stat_t
		if err := syscall.Stat(path, &st); err != nil {
			t.Fatal(err)
		}
		if st.Size != gib {
			t.Errorf("%s: %d bytes, want %d", what, st.Size, gib)
		}
		if allocated := st.Blocks * 512; allocated > 8<<20 {
			t.Errorf("%s: %d bytes allocated on disk, want the holes kept (a few KiB)", what, allocated)
		}
		got := make([]byte, len(payload))
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.ReadAt(got, at)
		f.Close()
		if err != nil || string(got) != string(payload) {
			t.Errorf("%s: %q at offset %d (err %v), want %q", what, got, at, err, payload)
		}
	}
}
