// Command verify runs the acceptance suite once and turns its evidence into an exit code:
// 0 GREEN, 1 RED, 2 NOT RUN. The verdict is read back from the evidence bundle the suite wrote,
// after its checksums are verified — never from the test runner's own exit status.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/scenarios/options"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	verdict, err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
	}
	os.Exit(evidence.ExitCode(verdict))
}

// run runs the suite with the options in args and returns the verdict of the evidence it wrote;
// any failure to get evidence is NOT RUN.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (evidence.Verdict, error) {
	opts := options.Defaults()
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: verify [flags]\n\nRuns the acceptance suite (seed, smoke, load, A1–A6) and writes the evidence bundle.\nExit code: 0 GREEN, 1 RED, 2 NOT RUN.\n\nFlags:")
		fs.PrintDefaults()
	}
	envErr := opts.Register(fs)
	if err := fs.Parse(args); err != nil {
		return evidence.NotRun, err
	}
	if envErr != nil {
		return evidence.NotRun, envErr
	}
	if fs.NArg() > 0 {
		return evidence.NotRun, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if err := opts.Validate(); err != nil {
		return evidence.NotRun, err
	}
	root, err := options.RepoRoot()
	if err != nil {
		return evidence.NotRun, err
	}
	if opts.RunID == "" {
		opts.RunID = time.Now().UTC().Format("20060102T150405Z")
	}
	if !filepath.IsAbs(opts.OutDir) {
		opts.OutDir = filepath.Join(root, opts.OutDir)
	}
	if opts.Thresholds != "" && !filepath.IsAbs(opts.Thresholds) {
		if opts.Thresholds, err = filepath.Abs(opts.Thresholds); err != nil {
			return evidence.NotRun, err
		}
	}
	dir := filepath.Join(opts.OutDir, opts.RunID)
	// A bundle already there could be mistaken for this run's: every run writes a new directory.
	if _, err := os.Stat(dir); err == nil {
		return evidence.NotRun, fmt.Errorf("%s exists: give a new --run-id", dir)
	}

	// The suite is a Ginkgo test binary; its own exit status is only a hint, the bundle decides.
	testArgs := append([]string{"test", "./scenarios/", "-count=1", "-timeout", (opts.Timeout + 2*time.Minute).String(),
		"-args"}, opts.Args()...)
	if getenv("CI") != "" || getenv("NO_COLOR") != "" {
		testArgs = append(testArgs, "-ginkgo.no-color")
	}
	cmd := exec.CommandContext(ctx, "go", testArgs...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	runErr := cmd.Run()

	report, err := evidence.VerifyBundle(dir)
	if err != nil {
		if runErr != nil {
			err = errors.Join(err, fmt.Errorf("suite: %w", runErr))
		}
		fmt.Fprintf(stdout, "\nverdict: %s (no valid evidence in %s)\n", evidence.NotRun, dir)
		return evidence.NotRun, err
	}
	verdict := report.Verdict
	switch {
	case report.RunID != opts.RunID:
		verdict, err = evidence.NotRun, fmt.Errorf("the bundle in %s is of run %q, not %q", dir, report.RunID, opts.RunID)
	case verdict == evidence.Green && runErr != nil:
		// The bundle cannot be GREEN while the suite itself failed: something it did not judge broke.
		verdict, err = evidence.NotRun, fmt.Errorf("the suite failed (%v) although its evidence says GREEN", runErr)
	}
	fmt.Fprintf(stdout, "\nverdict: %s\nevidence: %s\n", verdict, filepath.Join(dir, evidence.FileMarkdown))
	return verdict, err
}
