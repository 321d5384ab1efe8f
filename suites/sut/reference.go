package sut

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/backuppvc-conformance/harness/internal/proc"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
)

// MutantEnv names the defect (reference/mutant.Names) the reference is built with, for the
// negative controls (suites/negative); unset, or empty, builds it as it is. An environment
// variable, not a Config field, so that every Ginkgo process and the command that starts them
// agree without the suites knowing about it.
const MutantEnv = "BACKUPPVC_MUTANT"

// mutantVariable is reference/mutant's link-time variable, named, not imported: the suites depend
// on nothing of the reference. The reference refuses to start with a name it did not plant.
const mutantVariable = "github.com/backuppvc-conformance/harness/reference/mutant.active"

// Reference is this repository's backuppvc-reference, run as one host process.
type Reference struct {
	cfg Config
	p   *proc.Process
}

var _ SUT = (*Reference)(nil)

// referenceCheckInterval is how often the suites ask the reference to check the prepare timeout.
const referenceCheckInterval = 250 * time.Millisecond

// referenceStarted is what the reference logs (its default format, JSON) once it has loaded the
// node-agent ConfigMap and set its controllers up, just before it runs them: whatever it refuses
// (a ConfigMap, a flag) it refuses before.
const referenceStarted = `"msg":"starting"`

func newReference(cfg Config) *Reference { return &Reference{cfg: cfg} }

// PID is the running process's ID (0 before Start).
func (r *Reference) PID() int {
	if r.p == nil {
		return 0
	}
	return r.p.PID
}

// Name is "reference".
func (r *Reference) Name() string { return "reference" }

// Description says what it is.
func (r *Reference) Description() string {
	d := "backuppvc-reference (this repository's reference implementation of Velero v1.18.3's data-mover backup path)"
	if m := os.Getenv(MutantEnv); m != "" {
		d += ", built with the planted defect " + m + " (a negative control: it must fail)"
	}
	return d
}

// Versions: the reference is built from this checkout.
func (r *Reference) Versions() map[string]string {
	v, _ := toolchain.Versions()
	return map[string]string{"backuppvc-reference": "this checkout, modelling Velero " + v["VELERO_VERSION"]}
}

// Properties: it checks the timeout every 250 ms; its backupPods run the harness's data mover,
// which reads data only where a kubelet runs them and the lane has its image.
func (r *Reference) Properties() Properties {
	return Properties{TimeoutCheckInterval: referenceCheckInterval, DataMover: HarnessDataMover, OnHost: true,
		DataPath: r.cfg.RealKubelet && r.cfg.BackupPodImage != ""}
}

// referenceBin is where the reference is built: one path per planted defect, shared by every run,
// so that a warm start (and a second installation's) finds it up to date.
func referenceBin() string {
	name := "backuppvc-reference"
	if m := os.Getenv(MutantEnv); m != "" {
		name += "-" + m
	}
	return toolchain.BuildPath(name)
}

// Start builds the reference (unless Config.Built) and runs it; it returns once the reference
// logs that it starts its controllers, and fails if the process exits before (a refused
// ConfigMap, a bad flag), with the end of its log.
func (r *Reference) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("sut reference: %w", err), r.Stop(context.Background()))
		}
	}()
	for _, d := range []string{r.cfg.LogDir, tmpDir(r.cfg)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if !r.cfg.Built {
		if err := buildReference(ctx, tmpDir(r.cfg)); err != nil {
			return err
		}
	}
	args := []string{referenceBin(), "run", "--kubeconfig", r.cfg.Kubeconfig, "--namespace", r.cfg.Namespace,
		"--data-mover-prepare-timeout", r.cfg.PrepareTimeout.String(), "--prepare-check-interval", referenceCheckInterval.String()}
	args = append(args, configMapFlag(r.cfg)...)
	if r.cfg.BackupPodImage != "" {
		args = append(args, "--backup-pod-image", r.cfg.BackupPodImage)
	}
	p, err := proc.Start("reference", r.cfg.LogDir, args, nil)
	if err != nil {
		return err
	}
	r.p = p
	if err := writeRecord(r.cfg.WorkDir, []*proc.Process{p}); err != nil {
		return err
	}
	return waitLog(ctx, p, referenceStarted, time.Minute)
}

// buildReference builds the reference (with the planted defect MutantEnv names) at referenceBin,
// the go command's work folder in gotmp: inside the system's work folder, or one of Build's own,
// so that a build cut short leaves nothing in /tmp.
func buildReference(ctx context.Context, gotmp string) error {
	if err := os.MkdirAll(filepath.Dir(referenceBin()), 0o755); err != nil {
		return err
	}
	args := []string{"build", "-o", referenceBin()}
	if m := os.Getenv(MutantEnv); m != "" {
		args = append(args, "-ldflags", "-X "+mutantVariable+"="+m)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./reference/cmd/backuppvc-reference")...)
	cmd.Dir = toolchain.RepoRoot()
	cmd.Env = append(os.Environ(), "GOTMPDIR="+gotmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	return nil
}

// Running reports whether the process is still up.
func (r *Reference) Running() error {
	if r.p != nil && !r.p.Alive() {
		return r.p.Died("exited")
	}
	return nil
}

// LogFiles is the process's log.
func (r *Reference) LogFiles() []string {
	return []string{filepath.Join(r.cfg.LogDir, "reference.log")}
}

// TryConfigMap runs the reference's start-up against the ConfigMap; it logs "starting" once its
// controllers are set up with the ConfigMap it loaded.
func (r *Reference) TryConfigMap(ctx context.Context, ns, name string) (Refusal, error) {
	return tryStart(ctx, refusalDeadline, `"msg"="starting"`, []string{referenceBin(), "run", "--kubeconfig", r.cfg.Kubeconfig, "--namespace", ns,
		"--node-agent-configmap", name, "--log-format", "text"}, nil)
}

// Stop ends the process (SIGTERM, then SIGKILL after 10 s) and removes its work folder.
func (r *Reference) Stop(context.Context) error {
	var err error
	if r.p != nil {
		err = r.p.Stop(10 * time.Second)
	}
	return errors.Join(err, os.RemoveAll(r.cfg.WorkDir))
}

// Killer is a system under test that make chaos and the restart spec (D7) can crash and bring
// back: Kill ends it (at least its DataUpload controller) with SIGKILL (no shutdown, no cleanup,
// as an OOM kill or a node failure would), Restart starts it again as Start did, against the same
// cluster and configuration. Optional: a system that is not a Killer is not measured by make
// chaos, and the restart spec skips it.
type Killer interface {
	Kill(ctx context.Context) error
	Restart(ctx context.Context) error
}

var _ Killer = (*Reference)(nil)

// Kill ends the reference's process group with SIGKILL and waits until it is gone.
func (r *Reference) Kill(context.Context) error {
	if r.p == nil {
		return errors.New("sut reference: kill before start")
	}
	if err := r.p.Kill(); err != nil {
		return fmt.Errorf("sut reference: %w", err)
	}
	return nil
}

// Restart runs the reference again with the same command line (the binary Start built) and fails,
// like Start, if it exits before it starts its controllers.
func (r *Reference) Restart(ctx context.Context) error {
	if r.p == nil {
		return errors.New("sut reference: restart before start")
	}
	p, err := r.p.Restart(nil)
	if err != nil {
		return fmt.Errorf("sut reference: %w", err)
	}
	r.p = p
	if err := writeRecord(r.cfg.WorkDir, []*proc.Process{p}); err != nil {
		return fmt.Errorf("sut reference: %w", err)
	}
	if err := waitLog(ctx, p, referenceStarted, time.Minute); err != nil {
		return fmt.Errorf("sut reference: restart: %w", err)
	}
	return nil
}
