// Package options holds the settings of an acceptance run, shared by the Ginkgo suite (which runs
// with them) and the verify command (which checks and forwards them).
package options

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/exportatscale/exportatscale/internal/contract"
	"github.com/exportatscale/exportatscale/internal/envflag"
	"github.com/exportatscale/exportatscale/internal/project"
)

// Options are the settings of one acceptance run. Flags fill them; a VERIFY_* environment variable
// only supplies a flag's default.
type Options struct {
	Target          string // auto (""), container, image, process, url or cluster
	RequireTarget   bool   // a run that cannot get Target is NOT RUN, never a fallback
	Image           string // image target: a local image, never pulled
	URL             string // url target
	Token           string // url target
	Replicas        int    // cluster target: exporter replicas behind the proxy
	SmokeRows       int
	LoadRows        int
	LoadConcurrency int
	LoadRequests    int
	PDFShare        float64 // fraction of load requests that are PDF exports
	LargeRows       int     // rows of the large CSV export of the memory check (A4)
	// WriteTimeout, when not zero, replaces the profile's stalled-reader cut-off
	// (protection.stalled_reader.cut_after): the suite starts its own targets with it, and the
	// stalled-reader probe waits past it.
	WriteTimeout time.Duration
	// Profile is the profile of the API judged (profiles/*.yaml); "" is this repository's v1 API.
	Profile    string
	Thresholds string // file overriding the default thresholds
	// Baseline is an earlier run's evidence bundle to compare this run with: it makes the check
	// "baseline" required, RED on a significant regression and NOT RUN when it cannot be read.
	Baseline string
	// CompareImage and CompareURL name a baseline deployment judged beside the target in the same
	// run (a local image started with the target's limits, or a running exporter with
	// CompareToken): they make the check "regression" required. ComparePairs is the number of
	// export pairs of its A/B run.
	CompareImage string
	CompareURL   string
	CompareToken string
	ComparePairs int
	OutDir       string // evidence/out; the run writes OutDir/<run id>/
	RunID        string
	Seed         uint64
	Timeout      time.Duration
	// Soak is how long the soak keeps a constant open-model load (0: no soak, the soak check does
	// not apply); SoakRate its offered exports per second (0: derived from the load test).
	Soak     time.Duration
	SoakRate float64
}

// maxSoak is the longest --soak, as the soak check's spec timeout allows (pipeline.MaxSoak).
const maxSoak = 24 * time.Hour

// compareTime is what an A/B comparison adds to a run at most: the regression check's spec timeout.
const compareTime = 6 * time.Minute

// RunTimeout is the whole run's limit: --timeout, and a soak's duration and an A/B comparison's
// time on top of it.
func (o Options) RunTimeout() time.Duration {
	t := o.Timeout + o.Soak
	if o.Comparing() {
		t += compareTime
	}
	return t
}

// Defaults are the documented defaults.
func Defaults() Options {
	s := contract.DefaultSizes()
	return Options{
		Replicas:        contract.DefaultReplicas,
		SmokeRows:       s.SmokeRows,
		LoadRows:        s.LoadRows,
		LoadConcurrency: s.LoadConcurrency,
		LoadRequests:    s.LoadRequests,
		PDFShare:        s.PDFShare,
		LargeRows:       s.LargeRows,
		ComparePairs:    60,
		OutDir:          "evidence/out",
		Seed:            20261127,
		Timeout:         10 * time.Minute,
	}
}

// EnvPrefix names the environment variables of the flags: --load-rows reads VERIFY_LOAD_ROWS. The
// verify command's own flags (--sign-key) read theirs with the same prefix.
const EnvPrefix = "VERIFY"

// Register binds o to fs, each flag's default taken from o or, when set, from its VERIFY_*
// environment variable, which the flag's usage names. A malformed environment value is an error
// naming the variable. The suite registers on flag.CommandLine, which go test parses, so the
// environment is read here rather than when the arguments are parsed.
func (o *Options) Register(fs *flag.FlagSet) error {
	return envflag.Bind(fs, o.flags(), EnvPrefix)
}

// flags declares the options, bound to o, on a set of their own.
func (o *Options) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.StringVar(&o.Target, "target", o.Target, "exporter under test: container, image, process, url or cluster; empty picks container when a Docker engine answers, else process")
	fs.BoolVar(&o.RequireTarget, "require-target", o.RequireTarget, "a run that cannot get --target is NOT RUN instead of falling back")
	fs.StringVar(&o.Image, "image", o.Image, "a local image implementing the v1 API and the container contract, never pulled (target image)")
	fs.StringVar(&o.URL, "url", o.URL, "base URL of a running exporter (target url)")
	fs.StringVar(&o.Token, "token", o.Token, "bearer token with read and write scopes (target url)")
	fs.IntVar(&o.Replicas, "replicas", o.Replicas, "exporter replicas behind HAProxy over PostgreSQL (target cluster)")
	fs.IntVar(&o.SmokeRows, "smoke-rows", o.SmokeRows, "rows of the smoke dataset")
	fs.IntVar(&o.LoadRows, "load-rows", o.LoadRows, "rows of the load dataset")
	fs.IntVar(&o.LoadConcurrency, "load-concurrency", o.LoadConcurrency, "concurrent exports in the load test")
	fs.IntVar(&o.LoadRequests, "load-requests", o.LoadRequests, "exports in the load test")
	fs.Float64Var(&o.PDFShare, "pdf-share", o.PDFShare, "fraction of load exports that are PDF")
	fs.IntVar(&o.LargeRows, "large-rows", o.LargeRows, "rows of the large CSV export that checks memory stays flat")
	fs.DurationVar(&o.WriteTimeout, "write-timeout", o.WriteTimeout, "replaces the profile's stalled-reader cut-off (protection.stalled_reader.cut_after): the suite starts its own targets with it and the stalled-reader probe waits past it; for --target url give the deployment's (0: the profile's)")
	fs.StringVar(&o.Profile, "profile", o.Profile, "profile of the export API to judge (profiles/*.yaml); its service says how it runs; default: this repository's v1 API")
	fs.StringVar(&o.Thresholds, "thresholds", o.Thresholds, "JSON file overriding the default thresholds (evidence/thresholds.json)")
	fs.StringVar(&o.Baseline, "baseline", o.Baseline, "evidence bundle of an earlier run to compare with: adds the required check baseline, RED on a significant regression, NOT RUN when the bundle cannot be read")
	fs.StringVar(&o.CompareImage, "compare-image", o.CompareImage, "a local image started beside the target with the same limits, as the baseline of an A/B comparison in the same run: adds the required check regression")
	fs.StringVar(&o.CompareURL, "compare-url", o.CompareURL, "base URL of a running exporter (loopback) judged as the baseline of an A/B comparison in the same run: adds the required check regression")
	fs.StringVar(&o.CompareToken, "compare-token", o.CompareToken, "bearer token of --compare-url (default: --token)")
	fs.IntVar(&o.ComparePairs, "compare-pairs", o.ComparePairs, "export pairs of the A/B comparison (--compare-image, --compare-url)")
	fs.StringVar(&o.OutDir, "out", o.OutDir, "evidence directory; the run writes <out>/<run-id>/")
	fs.StringVar(&o.RunID, "run-id", o.RunID, "name of this run's evidence directory (default: UTC time)")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the generated records")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "the whole run's time limit, without the soak (a --soak adds its duration)")
	fs.DurationVar(&o.Soak, "soak", o.Soak, "keep a constant open-model load this long and judge leaks by slope (check soak); 0: no soak")
	fs.Float64Var(&o.SoakRate, "soak-rate", o.SoakRate, "the soak's offered exports per second; 0: a quarter of what the load test sustained, within [1, 20]")
	return fs
}

// abMinPairs is the fewest export pairs an A/B comparison may be asked for.
const abMinPairs = 16

// Comparing says whether a baseline deployment is judged beside the target (--compare-image or
// --compare-url).
func (o Options) Comparing() bool { return o.CompareImage != "" || o.CompareURL != "" }

// runIDRE keeps a run id a plain directory name, short enough to suffix dataset names.
var runIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,40}$`)

// Validate reports every problem with o.
func (o Options) Validate() error {
	var errs []error
	switch o.Target {
	case "", "container", "image", "process", "url", "cluster":
	default:
		errs = append(errs, fmt.Errorf("--target %q is not container, image, process, url or cluster", o.Target))
	}
	if err := contract.ValidateReplicas(o.Replicas); err != nil {
		errs = append(errs, fmt.Errorf("--%w", err))
	}
	switch {
	case o.Target == "url" && o.URL == "":
		errs = append(errs, errors.New("--target url needs --url"))
	case o.Target != "url" && o.URL != "":
		errs = append(errs, errors.New("--url is for --target url"))
	}
	switch {
	case o.Target == "image" && o.Image == "":
		errs = append(errs, errors.New("--target image needs --image"))
	case o.Target != "image" && o.Image != "":
		errs = append(errs, errors.New("--image is for --target image"))
	}
	if o.CompareImage != "" && o.CompareURL != "" {
		errs = append(errs, errors.New("give --compare-image or --compare-url, not both"))
	}
	if o.CompareToken != "" && o.CompareURL == "" {
		errs = append(errs, errors.New("--compare-token is for --compare-url"))
	}
	if o.ComparePairs < abMinPairs || o.ComparePairs > 1000 {
		errs = append(errs, fmt.Errorf("--compare-pairs must be within [%d, 1000]", abMinPairs))
	}
	if o.RequireTarget && o.Target == "" {
		errs = append(errs, errors.New("--require-target needs --target"))
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"--smoke-rows", o.SmokeRows}, {"--load-rows", o.LoadRows}, {"--load-concurrency", o.LoadConcurrency},
		{"--load-requests", o.LoadRequests}, {"--large-rows", o.LargeRows}} {
		if v.n < 1 {
			errs = append(errs, fmt.Errorf("%s must be >= 1", v.name))
		}
	}
	if o.PDFShare < 0 || o.PDFShare > 1 {
		errs = append(errs, errors.New("--pdf-share must be within [0, 1]"))
	}
	if o.RunID != "" && (!runIDRE.MatchString(o.RunID) || o.RunID == "." || o.RunID == "..") {
		errs = append(errs, fmt.Errorf("--run-id %q must match %s", o.RunID, runIDRE))
	}
	if o.OutDir == "" {
		errs = append(errs, errors.New("--out is required"))
	}
	if o.Timeout <= 0 {
		errs = append(errs, errors.New("--timeout must be > 0"))
	}
	if o.Soak < 0 || o.Soak > maxSoak {
		errs = append(errs, fmt.Errorf("--soak must be within [0, %s]", maxSoak))
	}
	if o.Soak > 0 && o.Soak < time.Minute {
		errs = append(errs, errors.New("--soak must be 1m or longer: a shorter one leaves too few samples after its warm-up to fit a slope"))
	}
	if o.SoakRate < 0 || o.SoakRate > 1000 {
		errs = append(errs, errors.New("--soak-rate must be within [0, 1000] exports/s"))
	}
	if o.SoakRate > 0 && o.Soak == 0 {
		errs = append(errs, errors.New("--soak-rate is for a run with --soak"))
	}
	if o.WriteTimeout < 0 || o.WriteTimeout > 5*time.Minute {
		errs = append(errs, errors.New("--write-timeout must be within [0, 5m] (0: the profile's)"))
	}
	return errors.Join(errs...)
}

// Args renders o as the flags that reproduce it.
func (o Options) Args() []string {
	var args []string
	o.flags().VisitAll(func(f *flag.Flag) { args = append(args, "--"+f.Name+"="+f.Value.String()) })
	return args
}

// RepoRoot is the nearest directory at or above the working directory that holds go.mod: the
// project root, against which relative paths of a run are resolved.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root, err := project.Root(dir)
	if errors.Is(err, project.ErrNoRoot) {
		return "", errors.New("not inside the project: no go.mod above the working directory")
	}
	return root, err
}
