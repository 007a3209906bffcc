package scenarios_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/target"
	"github.com/exportatscale/exportatscale/scenarios/options"
)

// The suite file owns the flags, the target, the artifacts and the evidence; the steps live in
// steps_test.go (specs) and run_test.go (what each step does).

var (
	opts    = options.Defaults()
	optsErr = opts.Register(flag.CommandLine, os.Getenv)
	run     = newRunState()
)

func TestScenarios(t *testing.T) {
	RegisterFailHandler(Fail)
	suiteConfig, reporterConfig := GinkgoConfiguration()
	suiteConfig.Timeout = opts.Timeout
	RunSpecs(t, "Export@Scale acceptance", suiteConfig, reporterConfig)
}

// exporterArgs configure a target the suite starts itself, so the probes know its limits.
var exporterArgs = []string{
	"--rate=100", "--burst=50", "--max-csv-exports=10", "--max-pdf-exports=2",
	"--pdf-max-rows=20000", "--write-timeout=15s", "--shutdown-grace=15s",
}

var _ = BeforeSuite(func(ctx SpecContext) {
	run.started = time.Now().UTC()
	Expect(optsErr).NotTo(HaveOccurred(), "options from the environment")
	Expect(opts.Validate()).To(Succeed())
	if opts.RunID == "" {
		opts.RunID = run.started.Format("20060102T150405Z")
	}
	var err error
	run.root, err = options.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	if opts.Thresholds != "" && !filepath.IsAbs(opts.Thresholds) {
		opts.Thresholds = filepath.Join(run.root, opts.Thresholds)
	}
	run.thresholds, err = evidence.LoadThresholds(opts.Thresholds)
	Expect(err).NotTo(HaveOccurred(), "thresholds")
	run.env = environment(ctx, run.root)

	// testcontainers reads these on its first call: no reaper container (nothing can be pulled),
	// and the published ports are on this host's loopback.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")

	By(fmt.Sprintf("starting the exporter (target %q, required: %v)", opts.Target, opts.RequireTarget))
	run.env.Target = opts.Target
	tgt, err := target.Start(ctx, target.Options{
		Kind:        target.Kind(opts.Target),
		RequireKind: opts.RequireTarget,
		RepoRoot:    run.root,
		Args:        exporterArgsFor(opts.Target),
		URL:         opts.URL,
		Token:       opts.Token,
		Log:         GinkgoWriter,
	})
	if err != nil {
		run.env.Note = "the target could not be started: " + err.Error()
		if errors.Is(err, target.ErrTargetUnavailable) {
			run.env.Note = "the required target is unavailable: " + err.Error()
		}
		Fail(run.env.Note)
	}
	DeferCleanup(func(ctx SpecContext) {
		if logs, err := tgt.Logs(ctx); err == nil {
			run.extras["exporter.log"] = logs
		}
		Expect(tgt.Stop(ctx)).To(Succeed(), "the exporter stops cleanly")
		if logs, err := tgt.Logs(ctx); err == nil {
			run.extras["exporter.log"] = logs
		}
	}, NodeTimeout(time.Minute))
	run.target = tgt
	info := tgt.Info()
	run.env.Target = string(tgt.Kind())
	run.env.TargetURL = tgt.BaseURL()
	run.env.ImageDigest = tgt.ImageDigest()
	run.env.Note = strings.TrimSpace(strings.Join([]string{info.Note, "memory: " + info.MemoryMethod}, "; "))
	if tgt.Kind() == target.KindContainer {
		if v, err := target.DockerVersion(ctx); err == nil {
			run.env.DockerVersion = v
		}
	}
	run.connect(tgt.BaseURL(), tgt.Token())
}, NodeTimeout(5*time.Minute))

func exporterArgsFor(kind string) []string {
	if kind == string(target.KindURL) {
		return nil
	}
	return exporterArgs
}

// When a spec fails, the exporter's recent log lines go to the spec's output.
var _ = ReportAfterEach(func(r SpecReport) {
	if r.Failed() && run.target != nil {
		if logs, err := run.target.Logs(context.Background()); err == nil {
			lines := strings.Split(strings.TrimSpace(string(logs)), "\n")
			AddReportEntry("exporter log (last lines)", strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	}
})

// The evidence is written from this run's results only, whatever happened: a run that never got
// its target still leaves a NOT RUN bundle saying why.
var _ = ReportAfterSuite("evidence", func(report Report) {
	required := append(evidence.DefaultRequired(), evidence.SuiteCheckID)
	rep := evidence.Report{
		SchemaVersion: evidence.SchemaVersion,
		RunID:         opts.RunID,
		Started:       run.started,
		Finished:      time.Now().UTC(),
		Environment:   run.env,
		Thresholds:    run.thresholds,
		Required:      required,
		Checks:        evidence.ChecksFromGinkgo(report, run.checks, required),
	}
	if rep.RunID == "" {
		rep.RunID = rep.Finished.Format("20060102T150405Z")
	}
	if rep.Thresholds == nil { // thresholds never loaded: judge nothing rather than invent rules
		rep.Thresholds = map[string]evidence.Rule{}
	}
	for _, f := range []string{"alerts/exporter.rules.yml", "dashboards/exporter.json"} {
		a, err := evidence.HashFile(filepath.Join(run.root, f))
		if err == nil {
			a.Path = f
			rep.Monitoring = append(rep.Monitoring, a)
		}
	}
	extras := run.extras
	if raw, err := json.MarshalIndent([]types.Report{report}, "", "  "); err == nil {
		extras["ginkgo-report.json"] = raw
	}
	if run.root == "" {
		run.root, _ = options.RepoRoot()
	}
	out := opts.OutDir
	if !filepath.IsAbs(out) {
		out = filepath.Join(run.root, out) // relative to the project, not to the suite's directory
	}
	dir := filepath.Join(out, rep.RunID)
	written, err := evidence.WriteBundle(dir, rep, extras)
	Expect(err).NotTo(HaveOccurred(), "writing the evidence bundle")
	fmt.Printf("\nverdict: %s\nevidence: %s\n", written.Verdict, filepath.Join(dir, evidence.FileMarkdown))
})

// environment records where the run happens; what cannot be read is said, not guessed.
func environment(ctx context.Context, root string) evidence.Environment {
	env := evidence.Environment{GoVersion: runtime.Version(), GitCommit: "unknown"}
	if out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "HEAD").Output(); err == nil {
		env.GitCommit = strings.TrimSpace(string(out))
		status, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain").Output()
		env.GitDirty = err != nil || len(strings.TrimSpace(string(status))) > 0
	}
	mem := "memory unknown"
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				mem = f[1] + " kB memory"
			}
		}
	}
	host, _ := os.Hostname()
	env.Machine = fmt.Sprintf("%s/%s, %d CPUs, %s, host %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), mem, host)
	return env
}
