package emulator

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/api/resource"
)

// StorageClass parameters the emulator understands.
const (
	ParamReadOnlyFromSnapshot = "readOnlyFromSnapshot"
	ParamCloneCostPerGiB      = "cloneCostPerGiB"
	ParamReplicas             = "replicas"
	// ParamSnapshotRestoreSize: the size (a quantity, such as 2Gi) the snapshots of this class's
	// volumes report, whatever the volume's; a volume made from such a snapshot is at least that
	// large. "0": they report no size (CSI's "unspecified"; the VolumeSnapshot gets no
	// restoreSize).
	ParamSnapshotRestoreSize = "snapshotRestoreSize"

	// sidecarPrefix marks parameters the CSI sidecars add or pass through; they are not ours.
	sidecarPrefix = "csi.storage.k8s.io/"
)

// ClassParams is a StorageClass's behaviour.
type ClassParams struct {
	ReadOnlyFromSnapshot bool
	CloneCostPerGiB      time.Duration
	Replicas             int
	// SnapshotRestoreSize is the size in bytes the snapshots of a volume of this class report,
	// when SnapshotRestoreSizeSet (else the volume's own); 0 is no size.
	SnapshotRestoreSize    int64
	SnapshotRestoreSizeSet bool
}

// DefaultParams: read-only from snapshot works, clones are free, one replica.
func DefaultParams() ClassParams {
	return ClassParams{ReadOnlyFromSnapshot: true, Replicas: 1}
}

// ParseParams reads CreateVolume parameters; an unknown or malformed one is InvalidArgument
// naming it, so a typo in a StorageClass fails provisioning loudly instead of being ignored.
func ParseParams(in map[string]string) (ClassParams, error) {
	p := DefaultParams()
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := in[k]
		switch {
		case strings.HasPrefix(k, sidecarPrefix):
		case k == ParamReadOnlyFromSnapshot:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return p, status.Errorf(codes.InvalidArgument, "parameter %s=%q: want true or false", k, v)
			}
			p.ReadOnlyFromSnapshot = b
		case k == ParamCloneCostPerGiB:
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return p, status.Errorf(codes.InvalidArgument, "parameter %s=%q: want a non-negative duration such as 2s", k, v)
			}
			p.CloneCostPerGiB = d
		case k == ParamReplicas:
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 16 {
				return p, status.Errorf(codes.InvalidArgument, "parameter %s=%q: want an integer from 1 to 16", k, v)
			}
			p.Replicas = n
		case k == ParamSnapshotRestoreSize:
			q, err := resource.ParseQuantity(v)
			if err != nil || q.Sign() < 0 {
				return p, status.Errorf(codes.InvalidArgument, "parameter %s=%q: want a quantity such as 2Gi, or 0 for none", k, v)
			}
			p.SnapshotRestoreSize, p.SnapshotRestoreSizeSet = q.Value(), true
		default:
			return p, status.Errorf(codes.InvalidArgument, "unknown StorageClass parameter %q (known: %s, %s, %s, %s)", k,
				ParamReadOnlyFromSnapshot, ParamCloneCostPerGiB, ParamReplicas, ParamSnapshotRestoreSize)
		}
	}
	return p, nil
}

// cloneDuration is the time a writable clone of size bytes takes: the cost per started GiB.
func (p ClassParams) cloneDuration(size int64) time.Duration {
	gib := (size + gib - 1) / gib
	return time.Duration(gib) * p.CloneCostPerGiB
}

const gib = 1 << 30

func (p ClassParams) String() string {
	return fmt.Sprintf("readOnlyFromSnapshot=%v cloneCostPerGiB=%v replicas=%d snapshotRestoreSize=%d", p.ReadOnlyFromSnapshot, p.CloneCostPerGiB, p.Replicas, p.SnapshotRestoreSize)
}
