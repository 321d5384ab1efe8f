package negative

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/backuppvc-conformance/harness/drivers/profile"
	"github.com/backuppvc-conformance/harness/internal/toolchain"
	"github.com/backuppvc-conformance/harness/suites/lane/local"
	"github.com/backuppvc-conformance/harness/suites/sut"
)

// Verdict is what one negative control showed.
type Verdict string

const (
	// Caught: a spec failed with the mutant's evidence in its failure.
	Caught Verdict = "caught"
	// Survived: every spec run passed: the suites certified a wrong system.
	Survived Verdict = "SURVIVED"
	// Unproven: specs failed, but none for the mutant's defect (a lane or harness failure), or
	// none ran at all (a focus that matches nothing, a spec the profile skips): not a verdict.
	Unproven Verdict = "UNPROVEN"
)

// Failure is one failed node of a run: a spec, or a suite-level node (the end-of-run sweep).
type Failure struct {
	Spec    string
	Message string
}

// Outcome is one mutant's run.
type Outcome struct {
	Mutant   Mutant
	Verdict  Verdict
	Ran      int // specs that ran (not skipped)
	Failures []Failure
	// CaughtBy are the failures that carry the mutant's evidence.
	CaughtBy []Failure
	Duration time.Duration
	// Err is why the run could not be judged (the suite did not start, no report).
	Err error
	// Dir holds the run's log, reports and diagnostics.
	Dir string
}

// Judge reads a run's Ginkgo reports against the mutant it ran.
func Judge(m Mutant, reports []types.Report) Outcome {
	o := Outcome{Mutant: m}
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.LeafNodeType == types.NodeTypeIt && !s.State.Is(types.SpecStateSkipped|types.SpecStatePending) {
				o.Ran++
			}
			if !s.State.Is(types.SpecStateFailureStates) {
				continue
			}
			name := s.FullText()
			if name == "" {
				name = s.LeafNodeType.String()
			}
			f := Failure{Spec: name, Message: s.Failure.Message}
			o.Failures = append(o.Failures, f)
			if strings.Contains(f.Message, m.Evidence) {
				o.CaughtBy = append(o.CaughtBy, f)
			}
		}
	}
	switch {
	case len(o.CaughtBy) > 0:
		o.Verdict = Caught
	case o.Ran > 0 && len(o.Failures) == 0:
		o.Verdict = Survived
	default:
		o.Verdict = Unproven
	}
	return o
}

// Options are how Run works.
type Options struct {
	// Artifacts receives one folder per mutant (artifacts/negative).
	Artifacts string
	// Parallel is how many mutants run at once against the one lane.
	Parallel int
	// Mutants to run (default: all).
	Mutants []Mutant
	Log     logr.Logger
}

// Run builds the conformance suite once, brings one local lane up with the emulator, and runs
// each mutant's spec against it as the existing lane (each run has its own Velero namespace,
// source-class aliases and ConfigMap, so runs share the lane safely), then takes the lane down.
func Run(ctx context.Context, o Options) (list []Outcome, err error) {
	if o.Parallel < 1 {
		o.Parallel = 1
	}
	if o.Mutants == nil {
		o.Mutants = Mutants
	}
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
	root := toolchain.RepoRoot()
	work, err := os.MkdirTemp("", "backuppvc-negative-")
	if err != nil {
		return nil, fmt.Errorf("negative: %w", err)
	}
	defer os.RemoveAll(work)
	start := time.Now()
	ginkgo, suite := filepath.Join(work, "ginkgo"), filepath.Join(work, "conformance.test")
	// The reference built once as it is: each mutant's build then only links.
	for _, args := range [][]string{
		{"build", "-o", ginkgo, "github.com/onsi/ginkgo/v2/ginkgo"},
		{"test", "-c", "-o", suite, "./suites/conformance"},
		{"build", "-o", filepath.Join(work, "backuppvc-reference"), "./reference/cmd/backuppvc-reference"},
	} {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("negative: go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	o.Log.Info("suite built", "took", time.Since(start).Round(time.Millisecond).String())

	p, err := profile.Find(root, "emulator")
	if err != nil {
		return nil, fmt.Errorf("negative: %w", err)
	}
	prof, err := existingProfile(root, work)
	if err != nil {
		return nil, err
	}
	laneName := fmt.Sprintf("negative-%d", os.Getpid())
	start = time.Now()
	l, err := local.Up(ctx, local.Options{Name: laneName, Profile: p, ArtifactsDir: o.Artifacts, Log: o.Log})
	if err != nil {
		return nil, fmt.Errorf("negative: %w", err)
	}
	o.Log.Info("lane up", "took", time.Since(start).Round(time.Millisecond).String())
	defer func() {
		if derr := l.Down(context.Background()); derr != nil {
			err = errors.Join(err, fmt.Errorf("negative: lane down: %w", derr))
		}
	}()

	// The slow ones first, so the quick ones fill the gaps.
	order := slices.Clone(o.Mutants)
	slices.SortStableFunc(order, func(a, b Mutant) int {
		if a.Slow == b.Slow {
			return 0
		}
		if a.Slow {
			return -1
		}
		return 1
	})
	byName := make(map[string]Outcome, len(order))
	var mu sync.Mutex
	todo := make(chan Mutant)
	var wg sync.WaitGroup
	for range o.Parallel {
		wg.Go(func() {
			for m := range todo {
				out := runOne(ctx, m, ginkgo, suite, prof, l.Kubeconfig(), filepath.Join(o.Artifacts, m.Name))
				o.Log.Info("mutant", "name", m.Name, "verdict", string(out.Verdict), "took", out.Duration.Round(time.Second).String())
				mu.Lock()
				byName[m.Name] = out
				mu.Unlock()
			}
		})
	}
	for _, m := range order {
		select {
		case todo <- m:
		case <-ctx.Done():
		}
	}
	close(todo)
	wg.Wait()
	for _, m := range o.Mutants {
		if out, ok := byName[m.Name]; ok {
			list = append(list, out)
		}
	}
	return list, ctx.Err()
}

// runTimeout bounds one mutant's run: the slowest spec waits for a 45 s prepare timeout, then
// up to 90 s for leftovers.
const runTimeout = 8 * time.Minute

// runOne runs the mutant's spec with the reference built with it, reports in dir.
func runOne(ctx context.Context, m Mutant, ginkgo, suite, prof, kubeconfig, dir string) Outcome {
	start := time.Now()
	out := Outcome{Mutant: m, Verdict: Unproven, Dir: dir}
	defer func() { out.Duration = time.Since(start) }()
	if err := os.RemoveAll(dir); err != nil {
		out.Err = err
		return out
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		out.Err = err
		return out
	}
	log, err := os.Create(filepath.Join(dir, "ginkgo.log"))
	if err != nil {
		out.Err = err
		return out
	}
	defer log.Close()
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, ginkgo, "-v", "--no-color", "--focus="+m.FocusRegexp(), "--timeout="+runTimeout.String(),
		"--json-report=report.json", "--output-dir="+dir, suite, "--",
		"-test.run=^TestConformance$", "--lane=existing", "--driver="+prof, "--lane-kubeconfig="+kubeconfig, "--lane-fails-unrecoverable-pods", "--sut=reference", "--artifacts="+dir)
	cmd.Dir = filepath.Dir(suite)
	cmd.Env = append(os.Environ(), sut.MutantEnv+"="+m.Name)
	cmd.Stdout, cmd.Stderr = log, log
	runErr := cmd.Run() // non-zero when a spec failed: the report says which
	data, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		out.Err = fmt.Errorf("negative: %s: no Ginkgo report (%v; run: %v); see %s", m.Name, err, runErr, log.Name())
		return out
	}
	var reports []types.Report
	if err := json.Unmarshal(data, &reports); err != nil {
		out.Err = fmt.Errorf("negative: %s: report.json: %w", m.Name, err)
		return out
	}
	j := Judge(m, reports)
	j.Dir, j.Duration = dir, time.Since(start)
	return j
}

// existingProfile writes the emulator's profile as the owner of a running local lane would for
// the existing lane (the lane made the classes: create: false; no local section), into dir.
func existingProfile(root, dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "drivers", "emulator", "profile.yaml"))
	if err != nil {
		return "", fmt.Errorf("negative: %w", err)
	}
	doc, err := asExisting(string(data))
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "profile.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		return "", fmt.Errorf("negative: %w", err)
	}
	return path, nil
}

// asExisting turns the emulator's profile document into its existing-lane form.
func asExisting(doc string) (string, error) {
	const lanes = "lanes: [local, kind]"
	i := strings.Index(doc, "\nlocal:")
	if !strings.Contains(doc, lanes) || i < 0 {
		return "", fmt.Errorf("negative: the emulator's profile has no %q line or no local section: update asExisting", lanes)
	}
	doc = strings.Replace(strings.ReplaceAll(doc[:i]+"\n", "create: true", "create: false"), lanes, "lanes: [existing]", 1)
	return doc, nil
}
