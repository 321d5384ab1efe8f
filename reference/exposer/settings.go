package exposer

import "github.com/go-logr/logr"

// resolveSettings applies the backupPVC entry of the source class (spec B1-B4, B9).
func resolveSettings(p Params, log logr.Logger) backupPVCSettings {
	s := backupPVCSettings{storageClass: p.StorageClass}
	entry, ok := p.BackupPVCConfig[p.StorageClass]
	if !ok {
		return s
	}
	if entry.StorageClass != "" {
		s.storageClass = entry.StorageClass
	}
	s.readOnly = entry.ReadOnly
	if entry.SPCNoRelabeling {
		if s.readOnly {
			s.spcNoRelabeling = true
		} else {
			log.Info("Ignoring spcNoRelabeling for read-write volume", "sourceStorageClass", p.StorageClass)
		}
	}
	if len(entry.Annotations) > 0 {
		s.annotations = entry.Annotations
	}
	return s
}
