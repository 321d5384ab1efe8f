// Package chaos measures crash safety (issue 16): on one local lane with the storage emulator it
// runs rounds of backups (some that must complete, one that must fail at the prepare timeout) and,
// while they run, kills the system under test with SIGKILL at a seeded random moment and restarts
// it, and once per round kills and restarts each CSI sidecar and the emulator. After each round it
// checks that every Backup reached its expected outcome, that every timed-out DataUpload failed
// at acceptedTimestamp + the prepare timeout (D4, D7: the count survives a restart), that nothing
// of an expose is left (D6) and no DataUpload is stuck. make chaos writes the numbers (kills per
// component, outcomes, timeout lateness, leaks, time per round) as Markdown and JSON; a wrong
// outcome or a leak fails it.
package chaos
