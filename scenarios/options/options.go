// Package options holds the settings of an acceptance run, shared by the Ginkgo suite (which runs
// with them) and the verify command (which checks and forwards them).
package options

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/exportatscale/exportatscale/internal/project"
)

// Options are the settings of one acceptance run. Flags fill them; a VERIFY_* environment variable
// only supplies a flag's default.
type Options struct {
	Target          string // auto (""), container, process or url
	RequireTarget   bool   // a run that cannot get Target is NOT RUN, never a fallback
	URL             string // url target
	Token           string // url target
	SmokeRows       int
	LoadRows        int
	LoadConcurrency int
	LoadRequests    int
	PDFShare        float64 // fraction of load requests that are PDF exports
	LargeRows       int     // rows of the large CSV export of the memory check (A4)
	// WriteTimeout is the exporter's write timeout: the suite starts its own targets with it, and
	// the stalled-reader probe waits past it.
	WriteTimeout time.Duration
	Thresholds   string // file overriding the default thresholds
	OutDir       string // evidence/out; the run writes OutDir/<run id>/
	RunID        string
	Seed         uint64
	Timeout      time.Duration
}

// Defaults are the documented defaults.
func Defaults() Options {
	return Options{
		SmokeRows:       1000,
		LoadRows:        10000,
		LoadConcurrency: 6, // below the CSV capacity the suite gives its own targets (10)
		LoadRequests:    120,
		PDFShare:        0.25,
		LargeRows:       300000,
		WriteTimeout:    4 * time.Second,
		OutDir:          "evidence/out",
		Seed:            20261127,
		Timeout:         10 * time.Minute,
	}
}

// Register binds o to fs with each default taken from o or its environment variable.
func (o *Options) Register(fs *flag.FlagSet, getenv func(string) string) error {
	var errs []error
	env := func(name string, set func(string) error) string {
		if v := getenv("VERIFY_" + name); v != "" {
			if err := set(v); err != nil {
				errs = append(errs, fmt.Errorf("VERIFY_%s=%q: %w", name, v, err))
			}
		}
		return " (env VERIFY_" + name + ")"
	}
	str := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	num := func(p *int) func(string) error {
		return func(v string) (err error) { *p, err = strconv.Atoi(v); return err }
	}
	u := map[string]string{
		"target":           env("TARGET", str(&o.Target)),
		"require-target":   env("REQUIRE_TARGET", func(v string) (err error) { o.RequireTarget, err = strconv.ParseBool(v); return err }),
		"url":              env("URL", str(&o.URL)),
		"token":            env("TOKEN", str(&o.Token)),
		"smoke-rows":       env("SMOKE_ROWS", num(&o.SmokeRows)),
		"load-rows":        env("LOAD_ROWS", num(&o.LoadRows)),
		"load-concurrency": env("LOAD_CONCURRENCY", num(&o.LoadConcurrency)),
		"load-requests":    env("LOAD_REQUESTS", num(&o.LoadRequests)),
		"pdf-share":        env("PDF_SHARE", func(v string) (err error) { o.PDFShare, err = strconv.ParseFloat(v, 64); return err }),
		"large-rows":       env("LARGE_ROWS", num(&o.LargeRows)),
		"write-timeout":    env("WRITE_TIMEOUT", func(v string) (err error) { o.WriteTimeout, err = time.ParseDuration(v); return err }),
		"thresholds":       env("THRESHOLDS", str(&o.Thresholds)),
		"out":              env("OUT", str(&o.OutDir)),
		"run-id":           env("RUN_ID", str(&o.RunID)),
		"seed":             env("SEED", func(v string) (err error) { o.Seed, err = strconv.ParseUint(v, 10, 64); return err }),
		"timeout":          env("TIMEOUT", func(v string) (err error) { o.Timeout, err = time.ParseDuration(v); return err }),
	}
	fs.StringVar(&o.Target, "target", o.Target, "exporter under test: container, process or url; empty picks container when a Docker engine answers, else process"+u["target"])
	fs.BoolVar(&o.RequireTarget, "require-target", o.RequireTarget, "a run that cannot get --target is NOT RUN instead of falling back"+u["require-target"])
	fs.StringVar(&o.URL, "url", o.URL, "base URL of a running exporter (target url)"+u["url"])
	fs.StringVar(&o.Token, "token", o.Token, "bearer token with read and write scopes (target url)"+u["token"])
	fs.IntVar(&o.SmokeRows, "smoke-rows", o.SmokeRows, "rows of the smoke dataset"+u["smoke-rows"])
	fs.IntVar(&o.LoadRows, "load-rows", o.LoadRows, "rows of the load dataset"+u["load-rows"])
	fs.IntVar(&o.LoadConcurrency, "load-concurrency", o.LoadConcurrency, "concurrent exports in the load test"+u["load-concurrency"])
	fs.IntVar(&o.LoadRequests, "load-requests", o.LoadRequests, "exports in the load test"+u["load-requests"])
	fs.Float64Var(&o.PDFShare, "pdf-share", o.PDFShare, "fraction of load exports that are PDF"+u["pdf-share"])
	fs.IntVar(&o.LargeRows, "large-rows", o.LargeRows, "rows of the large CSV export that checks memory stays flat"+u["large-rows"])
	fs.DurationVar(&o.WriteTimeout, "write-timeout", o.WriteTimeout, "the exporter's write timeout: the suite starts its own targets with it and the stalled-reader probe waits past it; for --target url give the deployment's"+u["write-timeout"])
	fs.StringVar(&o.Thresholds, "thresholds", o.Thresholds, "JSON file overriding the default thresholds (evidence/thresholds.json)"+u["thresholds"])
	fs.StringVar(&o.OutDir, "out", o.OutDir, "evidence directory; the run writes <out>/<run-id>/"+u["out"])
	fs.StringVar(&o.RunID, "run-id", o.RunID, "name of this run's evidence directory (default: UTC time)"+u["run-id"])
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the generated records"+u["seed"])
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "the whole run's time limit"+u["timeout"])
	return errors.Join(errs...)
}

// runIDRE keeps a run id a plain directory name, short enough to suffix dataset names.
var runIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,40}$`)

// Validate reports every problem with o.
func (o Options) Validate() error {
	var errs []error
	switch o.Target {
	case "", "container", "process":
		if o.URL != "" {
			errs = append(errs, errors.New("--url is for --target url"))
		}
	case "url":
		if o.URL == "" {
			errs = append(errs, errors.New("--target url needs --url"))
		}
	default:
		errs = append(errs, fmt.Errorf("--target %q is not container, process or url", o.Target))
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
	if o.WriteTimeout <= 0 || o.WriteTimeout > 5*time.Minute {
		errs = append(errs, errors.New("--write-timeout must be within (0, 5m]"))
	}
	return errors.Join(errs...)
}

// Args renders o as the flags that reproduce it.
func (o Options) Args() []string {
	return []string{
		"--target=" + o.Target, "--require-target=" + strconv.FormatBool(o.RequireTarget),
		"--url=" + o.URL, "--token=" + o.Token,
		"--smoke-rows=" + strconv.Itoa(o.SmokeRows), "--load-rows=" + strconv.Itoa(o.LoadRows),
		"--load-concurrency=" + strconv.Itoa(o.LoadConcurrency), "--load-requests=" + strconv.Itoa(o.LoadRequests),
		"--pdf-share=" + strconv.FormatFloat(o.PDFShare, 'g', -1, 64), "--large-rows=" + strconv.Itoa(o.LargeRows),
		"--write-timeout=" + o.WriteTimeout.String(),
		"--thresholds=" + o.Thresholds, "--out=" + o.OutDir, "--run-id=" + o.RunID,
		"--seed=" + strconv.FormatUint(o.Seed, 10), "--timeout=" + o.Timeout.String(),
	}
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
