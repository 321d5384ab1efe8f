// Package emulator is a CSI driver whose behaviour is chosen per StorageClass parameter, modelling
// what the Velero backupPVC page describes and no available driver shows:
//
//   - readOnlyFromSnapshot: "false": a MULTI_NODE_READER_ONLY volume from a snapshot is refused
//     (storage that cannot expose a snapshot read-only);
//   - cloneCostPerGiB: "2s": a writable volume from a snapshot is a full clone taking that long per
//     GiB, a read-only one shares the snapshot's data and is immediate;
//   - replicas: "3": each volume consumes size x replicas of the emulator's capacity;
//   - snapshotRestoreSize: "2Gi": the snapshots of this class's volumes report that size (their
//     VolumeSnapshots' restoreSize), whatever the volume's; "0": no size (no restoreSize).
//
// Data is real: volumes and snapshots are folders (Block volumes: files) under a state folder,
// a snapshot is a copy, NodePublishVolume bind-mounts them, read-only when asked. State survives
// a restart. No topology: the local lane has no CSINode.
package emulator
