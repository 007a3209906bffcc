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
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/render"
	"github.com/exportatscale/exportatscale/harness/api"
	"github.com/exportatscale/exportatscale/harness/pipeline"
	"github.com/exportatscale/exportatscale/harness/profile"
	"github.com/exportatscale/exportatscale/harness/seed"
	"github.com/exportatscale/exportatscale/harness/target"
	"github.com/exportatscale/exportatscale/internal/contract"
	"github.com/exportatscale/exportatscale/scenarios/ginkgoreport"
	"github.com/exportatscale/exportatscale/scenarios/options"
	"github.com/exportatscale/exportatscale/scenarios/progress"
)

// The suite file owns the flags, the target, the artifacts and the evidence; the specs live in
// specs_test.go, and what each step does in harness/pipeline.

var (
	opts    = options.Defaults()
	optsErr = opts.Register(flag.CommandLine)
	run     *pipeline.Run
	events  = progressWriter() // to verify, when it runs the suite
	suite   = &suiteState{checks: map[string]evidence.Check{}, extras: map[string][]byte{}}
)

// suiteState is what the suite itself keeps beside the pipeline: where and against what it runs,
// the checks recorded, and the artifacts that are not the pipeline's.
type suiteState struct {
	started    time.Time
	root       string
	env        evidence.Environment
	thresholds map[string]evidence.Rule
	target     target.Target
	profile    *profile.Profile // nil: the v1 API
	checks     map[string]evidence.Check
	extras     map[string][]byte
}

func TestScenarios(t *testing.T) {
	suiteConfig, reporterConfig := GinkgoConfiguration()
	suiteConfig.Timeout = opts.RunTimeout()
	RunSpecs(t, "Export@Scale acceptance", suiteConfig, reporterConfig)
}

// judged is the profile of the API judged: --profile's, or this repository's v1 API.
func judged() *profile.Profile {
	if suite.profile != nil {
		return suite.profile
	}
	return api.V1Profile()
}

// limits are those the profile declares (protection), which the suite starts its own targets with
// (the profile's service env names them), so the probes know them: the saturation probe holds
// one export more than every replica's capacity, and the stalled reader waits past the cut-off.
// --write-timeout replaces the declared cut-off.
func limits() profile.Limits {
	l := judged().Limits()
	if opts.WriteTimeout > 0 {
		l.CutAfter = opts.WriteTimeout
	}
	return l
}

var _ = BeforeSuite(func(ctx SpecContext) {
	suite.started = time.Now().UTC()
	// Bad configuration is the user's to fix: a plain message, not Gomega's rendering of an error
	// (bin/verify refuses it before the suite starts; this is for the suite run on its own).
	if err := errors.Join(optsErr, opts.Validate()); err != nil {
		Fail("options: " + err.Error())
	}
	if opts.RunID == "" {
		opts.RunID = suite.started.Format("20060102T150405Z")
	}
	var err error
	suite.root, err = options.RepoRoot()
	must(err, "finding the project")
	if opts.Thresholds != "" && !filepath.IsAbs(opts.Thresholds) {
		opts.Thresholds = filepath.Join(suite.root, opts.Thresholds)
	}
	if opts.Baseline != "" && !filepath.IsAbs(opts.Baseline) {
		opts.Baseline = filepath.Join(suite.root, opts.Baseline)
	}
	if suite.thresholds, err = evidence.LoadThresholds(opts.Thresholds); err != nil {
		Fail(err.Error())
	}
	if opts.Profile != "" {
		if !filepath.IsAbs(opts.Profile) {
			opts.Profile = filepath.Join(suite.root, opts.Profile)
		}
		if suite.profile, err = profile.Load(opts.Profile); err != nil {
			Fail(err.Error())
		}
	}
	suite.env = environment(ctx, suite.root)

	// testcontainers reads these on its first call: no reaper container (nothing can be pulled),
	// and the published ports are on this host's loopback.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")

	By(fmt.Sprintf("starting the exporter (target %q, required: %v)", opts.Target, opts.RequireTarget))
	suite.env.Target = opts.Target
	tgt, err := startTarget(ctx)
	if err != nil {
		suite.env.Note = "the target could not be started: " + err.Error()
		if errors.Is(err, target.ErrTargetUnavailable) {
			suite.env.Note = "the required target is unavailable: " + err.Error()
		}
		Fail(suite.env.Note)
	}
	DeferCleanup(func(ctx SpecContext) {
		keepLogs(ctx, tgt)
		must(tgt.Stop(ctx), "stopping the exporter")
		keepLogs(ctx, tgt)
	}, NodeTimeout(time.Minute))
	suite.target = tgt
	info := tgt.Info()
	suite.env.Target = string(tgt.Kind())
	suite.env.TargetURL = tgt.BaseURL()
	suite.env.ImageDigest = info.ImageID
	if tgt.Kind() == target.KindImage {
		suite.env.Image = info.Image
	}
	suite.env.Note = strings.TrimSpace(strings.Join([]string{info.Note, "memory: " + info.MemoryMethod}, "; "))
	if k := tgt.Kind(); k == target.KindContainer || k == target.KindImage || k == target.KindCluster {
		if v, err := target.DockerVersion(ctx); err == nil {
			suite.env.DockerVersion = v
		}
	}
	cfg := pipeline.Config{Target: tgt, Thresholds: suite.thresholds, Suffix: opts.RunID, Seed: opts.Seed,
		Sizes: contract.DefaultSizes(), Limits: ptr(limits()), Baseline: opts.Baseline, Profile: suite.profile}
	if opts.Comparing() {
		cfg.Compare, cfg.ComparePairs = startCompare(ctx), opts.ComparePairs
		suite.env.Note = strings.TrimSpace(suite.env.Note + "; A/B baseline: " + compareName())
	}
	cfg.SmokeRows, cfg.LoadRows, cfg.LargeRows = opts.SmokeRows, opts.LoadRows, opts.LargeRows
	cfg.LoadRequests, cfg.LoadConcurrency, cfg.PDFShare = opts.LoadRequests, opts.LoadConcurrency, opts.PDFShare
	cfg.Soak = pipeline.SoakConfig{Duration: opts.Soak, Rate: opts.SoakRate}
	cfg.Narrate = func(s string) {
		By(s)
		events.Send(progress.Event{Kind: progress.KindStep, Text: s})
	}
	cfg.Seeded = func(dataset string, p seed.Progress) {
		GinkgoWriter.Printf("  seeded %s: %d/%d records, %.0f records/s, ETA %s\n", dataset, p.Done, p.Total, p.RecordsPerSecond, p.ETA.Round(100*time.Millisecond))
		events.Send(progress.Event{Kind: progress.KindSeed, Dataset: dataset, Done: p.Done, Total: p.Total, Rate: p.RecordsPerSecond, ETA: p.ETA})
	}
	cfg.Exported = func(done, planned int) {
		events.Send(progress.Event{Kind: progress.KindLoad, Done: done, Total: planned})
	}
	run, err = pipeline.New(cfg)
	must(err, "preparing the run")
	suite.env.Topology = run.Topology()
}, NodeTimeout(5*time.Minute))

// startTarget starts what the run judges: the profile's own service when it runs as a process,
// its image when it is one (unless --target names another kind), the deployment at its base URL
// when it is a url; otherwise the target --target names. A target the suite starts gets the
// profile's service env with its limits.
func startTarget(ctx context.Context) (target.Target, error) {
	o := target.Options{
		Kind:        target.Kind(opts.Target),
		RequireKind: opts.RequireTarget,
		RepoRoot:    suite.root,
		Image:       opts.Image,
		Env:         exporterEnvFor(opts.Target),
		Readiness:   judged().Service.Readiness,
		URL:         opts.URL,
		Token:       opts.Token,
		Cluster:     target.ClusterOptions{Replicas: opts.Replicas},
		Log:         GinkgoWriter,
	}
	if p := suite.profile; p != nil {
		switch p.Service.Kind {
		case "process":
			o.Kind, o.Env = target.KindProcess, nil // the service's env is in ServiceOf
			return target.StartService(ctx, target.ServiceOf(p, limits()), o)
		case "image":
			if o.Kind == "" { // --target not given: the profile's image
				o.Kind = target.KindImage
			}
			if o.Image == "" {
				o.Image = p.Service.Ref
			}
		case "url":
			if o.URL == "" {
				o.URL = p.Connection.BaseURL
			}
			o.Kind, o.Env = target.KindURL, nil
		}
	}
	return target.Start(ctx, o)
}

// startCompare starts the baseline deployment of the A/B comparison (--compare-image, --compare-url)
// beside the target, with the same limits: an image is started as the image target starts one, a
// url is a running exporter. A baseline that cannot be had fails the run's setup: the regression
// check it owes could not be judged, so the run is NOT RUN.
func startCompare(ctx context.Context) target.Target {
	o := target.Options{Kind: target.KindImage, RequireKind: true, RepoRoot: suite.root, Image: opts.CompareImage,
		Env: exporterEnvFor(string(target.KindImage)), Readiness: judged().Service.Readiness, Log: GinkgoWriter}
	if opts.CompareURL != "" {
		o = target.Options{Kind: target.KindURL, RequireKind: true, URL: opts.CompareURL, Token: opts.Token, Log: GinkgoWriter}
		if opts.CompareToken != "" {
			o.Token = opts.CompareToken
		}
	}
	By("starting the A/B baseline beside the target: " + compareName())
	tgt, err := target.Start(ctx, o)
	must(err, "starting the A/B baseline "+compareName())
	DeferCleanup(func(ctx SpecContext) { must(tgt.Stop(ctx), "stopping the A/B baseline") }, NodeTimeout(time.Minute))
	return tgt
}

// compareName names the A/B baseline as the flags gave it.
func compareName() string {
	if opts.CompareURL != "" {
		return "--compare-url " + opts.CompareURL
	}
	return "--compare-image " + opts.CompareImage
}

// exporterEnvFor is the environment the profile's service starts the exporter with (its limits
// filled in), for a target the suite starts; a url target's deployment is already running.
func exporterEnvFor(kind string) map[string]string {
	if kind == string(target.KindURL) {
		return nil
	}
	return judged().ServiceWith(limits()).Env
}

func ptr[T any](v T) *T { return &v }

// capabilities are what the run can be judged on: its target's (or, when the target never
// started, what one of the kind asked for would have had) and its options'.
func capabilities() pipeline.Capabilities {
	c := pipeline.CapabilitiesOfKind(target.Kind(opts.Target), opts.Baseline, suite.profile)
	if suite.target != nil {
		c = pipeline.CapabilitiesOf(suite.target, opts.Baseline, suite.profile)
	}
	c.Soak = opts.Soak > 0
	c.Compare = opts.Comparing()
	return c
}

// profileName names the profile given with --profile; "" for the default, the v1 API.
func profileName() string {
	if suite.profile == nil {
		return ""
	}
	return suite.profile.Name
}

// must fails the node with a plain message, what went wrong and why, when err is not nil: a
// person reads it, so none of Gomega's rendering of an error value.
func must(err error, what string) {
	GinkgoHelper()
	if err != nil {
		Fail(what + ": " + err.Error())
	}
}

// progressWriter is the progress channel verify handed the suite (progress.EnvFD), or nil.
func progressWriter() *progress.Writer {
	fd, err := strconv.Atoi(os.Getenv(progress.EnvFD))
	if err != nil || fd < 3 {
		return nil
	}
	return progress.NewWriter(os.NewFile(uintptr(fd), "progress"))
}

// keepLogs keeps the exporter's output for the evidence, where the target shows it.
func keepLogs(ctx context.Context, tgt target.Target) {
	if lg, ok := tgt.(target.Logger); ok {
		if logs, err := lg.Logs(ctx); err == nil {
			suite.extras["exporter.log"] = logs
		}
	}
}

// record keeps a step's or an assertion's check for the evidence, shows its measures in the
// report, and fails the spec when the check did not pass (skips it when it could not be judged).
func record(c evidence.Check) {
	GinkgoHelper()
	suite.checks[c.ID] = c
	pc := progress.CheckOf(c)
	events.Send(progress.Event{Kind: progress.KindCheck, Check: &pc})
	for _, m := range c.Measures {
		rule := "informational"
		if m.Rule != nil {
			rule = fmt.Sprintf("%s %v %s", m.Rule.Op, m.Rule.Value, m.Rule.Unit)
		}
		AddReportEntry(m.Name, fmt.Sprintf("%v %s (%s, pass=%v)", m.Value, m.Unit, rule, m.Pass))
	}
	for _, n := range c.Notes {
		AddReportEntry(c.ID+" note", n)
	}
	switch c.Status {
	case evidence.StatusPassed:
	case evidence.StatusNotRun, evidence.StatusSkipped:
		Skip(fmt.Sprintf("%s could not be judged: %s", c.ID, strings.Join(c.Failures, "; ")))
	case evidence.StatusNotApplicable:
		if c.Outcome() == evidence.OutcomeFailed { // a not-applicable mark never hides a defect
			Fail(fmt.Sprintf("%s %s failed:\n%s", c.ID, c.Title, strings.Join(c.Failures, "\n")))
		}
		Skip(fmt.Sprintf("%s does not apply to this API: %s", c.ID, c.Reason))
	default:
		Fail(fmt.Sprintf("%s %s failed:\n%s", c.ID, c.Title, strings.Join(c.Failures, "\n")))
	}
}

// When a spec fails, the exporter's recent log lines go to the spec's output.
var _ = ReportAfterEach(func(r SpecReport) {
	if lg, ok := suite.target.(target.Logger); r.Failed() && ok {
		if logs, err := lg.Logs(context.Background()); err == nil {
			lines := strings.Split(strings.TrimSpace(string(logs)), "\n")
			AddReportEntry("exporter log (last lines)", strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	}
})

// The evidence is written from this run's results only, whatever happened: a run that never got
// its target still leaves a NOT RUN bundle saying why.
var _ = ReportAfterSuite("evidence", func(report Report) {
	required := pipeline.Required(pipeline.Table(), capabilities())
	rep := evidence.Report{
		SchemaVersion: evidence.SchemaVersion,
		RunID:         opts.RunID,
		Started:       suite.started,
		Finished:      time.Now().UTC(),
		Environment:   suite.env,
		Thresholds:    suite.thresholds,
		Required:      required,
		Profile:       profileName(),
		Checks:        ginkgoreport.Checks(report, suite.checks, required),
	}
	if rep.RunID == "" {
		rep.RunID = rep.Finished.Format("20060102T150405Z")
	}
	if rep.Thresholds == nil { // thresholds never loaded: judge nothing rather than invent rules
		rep.Thresholds = map[string]evidence.Rule{}
	}
	for _, f := range []string{"alerts/exporter.rules.yml", "dashboards/exporter.json"} {
		a, err := evidence.HashFile(filepath.Join(suite.root, f))
		if err == nil {
			a.Path = f
			rep.Monitoring = append(rep.Monitoring, a)
		}
	}
	extras := suite.extras
	if run != nil {
		for name, b := range run.Artifacts() {
			extras[name] = b
		}
	}
	if run != nil {
		rep.Environment.Topology = run.Topology() // each replica's share, now that it is measured
		rep.Series = run.Series()                 // the charts of EVIDENCE.html
		rep.Baseline = run.BaselineDeltas()       // its baseline table, when compared
		rep.AB = run.AB()                         // its A/B distributions, when compared
	}
	if raw, err := json.MarshalIndent([]types.Report{report}, "", "  "); err == nil {
		extras["ginkgo-report.json"] = raw
	}
	if suite.root == "" {
		suite.root, _ = options.RepoRoot()
	}
	out := opts.OutDir
	if !filepath.IsAbs(out) {
		out = filepath.Join(suite.root, out) // relative to the project, not to the suite's directory
	}
	dir := filepath.Join(out, rep.RunID)
	written, err := render.WriteBundle(dir, rep, extras)
	must(err, "writing the evidence bundle")
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
