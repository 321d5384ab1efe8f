package conformance

// Spec priorities (Ginkgo's SpecPriority: a higher one starts first; TestConformance shuffles
// every spec on its own, which Ginkgo needs to order the specs of one container by priority). The
// specs that wait out a prepare timeout are the longest of a run by far; started first, the short
// ones fill the processes around them and the run ends about when the longest does. Started in the
// order of their names, they came last, and the run ended one timeout after the short ones.
const (
	// priorityTimeout: the spec waits for a prepare timeout.
	priorityTimeout = 2
	// prioritySecondInstallation: the spec starts a second installation of the system first
	// (added to priorityTimeout for the restart spec, which does both).
	prioritySecondInstallation = 1
	// priorityScale: the spec runs many backups at once.
	priorityScale = 1
	// priorityLonger: the spec backs up a Block volume, or waits for an expose to fail on a
	// collision: twice a plain backup's time, the longest of the others.
	priorityLonger = 1
)

// priority is the priority of sc's spec.
func (sc Scenario) priority() int {
	p := 0
	if sc.Outcome == TimesOut {
		p += priorityTimeout
	}
	if sc.Restart {
		p += prioritySecondInstallation
	}
	if sc.Scale > 1 {
		p += priorityScale
	}
	if sc.Block || sc.Collide {
		p += priorityLonger
	}
	return p
}
