package exposer

import (
	"maps"
	"slices"

	"github.com/go-logr/logr"

	"github.com/backuppvc-conformance/harness/reference/mutant"
)

// resolveSettings applies the backupPVC entry of the source class (spec B1-B4, B9).
func resolveSettings(p Params, log logr.Logger) backupPVCSettings {
	s := backupPVCSettings{storageClass: p.StorageClass}
	entry, ok := p.BackupPVCConfig[p.StorageClass]
	if !ok && mutant.Is("b1-default-entry") && len(p.BackupPVCConfig) > 0 {
		// negative control: a class with no entry gets the first entry, as if there were a default (B1).
		entry, ok = p.BackupPVCConfig[slices.Sorted(maps.Keys(p.BackupPVCConfig))[0]], true
	}
	if !ok {
		if mutant.Is("b2-no-entry-read-only") {
			s.readOnly = true // negative control: no entry gives ReadOnlyMany (B2)
		}
		return s
	}
	if entry.StorageClass != "" && !(mutant.Is("b4-override-ignored") && !entry.ReadOnly) { // negative control: the override only with readOnly (B4)
		s.storageClass = entry.StorageClass
	}
	if entry.StorageClass == "" && mutant.Is("b3-empty-class-unset") {
		s.storageClass = "" // negative control: an empty storageClass leaves the backupPVC's class unset (B3)
	}
	s.readOnly = entry.ReadOnly
	if entry.StorageClass == "" && mutant.Is("b4-read-only-needs-class") {
		s.readOnly = false // negative control: readOnly ignored when the entry names no storageClass (B3, B4)
	}
	if mutant.Is("b9-spc-without-read-only") {
		s.spcNoRelabeling = entry.SPCNoRelabeling // negative control: spcNoRelabeling applied without readOnly too (B9)
	}
	if entry.SPCNoRelabeling {
		if s.readOnly && !mutant.Is("b9-spc-ignored") { // negative control: spcNoRelabeling ignored even with readOnly (B9)
			s.spcNoRelabeling = true
		} else {
			log.Info("Ignoring spcNoRelabeling for read-write volume", "sourceStorageClass", p.StorageClass)
		}
	}
	if len(entry.Annotations) > 0 && !mutant.Is("b5-annotations-dropped") { // negative control: the entry's annotations dropped (B5)
		s.annotations = entry.Annotations
	}
	return s
}
