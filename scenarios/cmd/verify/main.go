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
	"strings"
	"syscall"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/scenarios/options"
	"github.com/exportatscale/exportatscale/scenarios/progress"
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
		fmt.Fprintln(stderr, "Usage: verify [flags]\n\nRuns the acceptance suite (seed, smoke, load, A1–A6) and writes the evidence bundle.\nIt shows the run's progress and ends with a summary of every check; the suite's own output goes\nto <out>/<run-id>.suite.log.\nExit code: 0 GREEN, 1 RED, 2 NOT RUN.\n\nFlags:")
		fs.PrintDefaults()
	}
	envErr := opts.Register(fs)
	quiet := fs.Bool("quiet", false, "print only the summary of the checks, not the run's progress")
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
	if opts.Baseline != "" && !filepath.IsAbs(opts.Baseline) {
		if opts.Baseline, err = filepath.Abs(opts.Baseline); err != nil {
			return evidence.NotRun, err
		}
	}
	dir := filepath.Join(opts.OutDir, opts.RunID)
	// A bundle already there could be mistaken for this run's: every run writes a new directory.
	if _, err := os.Stat(dir); err == nil {
		return evidence.NotRun, fmt.Errorf("%s exists: give a new --run-id", dir)
	}

	color := isTerminal(stdout) && getenv("NO_COLOR") == "" && getenv("CI") == ""
	printer := &progress.Printer{W: stdout, TTY: isTerminal(stdout) && getenv("CI") == "", Color: color, Quiet: *quiet}
	suiteLog := dir + ".suite.log"
	runErr := runSuite(ctx, root, opts, suiteLog, color, printer, stderr)
	report, err := evidence.VerifyBundle(dir)
	if err != nil {
		if runErr != nil {
			err = errors.Join(err, fmt.Errorf("suite: %w", runErr))
		}
		fmt.Fprintf(stdout, "\nverdict: %s (no valid evidence in %s)\n", evidence.NotRun, dir)
		if tail := lastLines(suiteLog, 30); tail != "" {
			fmt.Fprintf(stderr, "the suite's last lines (%s):\n%s\n", suiteLog, tail)
		}
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
	report.Verdict = verdict
	var paths []string
	for _, f := range []string{evidence.FileMarkdown, "EVIDENCE.html", "attestation.intoto.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			paths = append(paths, filepath.Join(dir, f))
		}
	}
	printer.Summary(report, paths...)
	fmt.Fprintf(stdout, "suite log: %s\n", suiteLog)
	return verdict, err
}

// runSuite builds the suite's test binary and runs it with opts, its Ginkgo output going to the
// file suiteLog and its progress events to printer. The suite's exit status is only a hint: the
// bundle it writes decides the verdict.
func runSuite(ctx context.Context, root string, opts options.Options, suiteLog string, color bool, printer *progress.Printer, stderr io.Writer) error {
	tmp, err := os.MkdirTemp("", "verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "scenarios.test")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, "./scenarios/")
	build.Dir, build.Stdout, build.Stderr = root, stderr, stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the suite: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(suiteLog), 0o755); err != nil {
		return err
	}
	logFile, err := os.Create(suiteLog)
	if err != nil {
		return err
	}
	defer logFile.Close()
	events, send, err := os.Pipe()
	if err != nil {
		return err
	}
	defer events.Close()

	args := append([]string{"-test.timeout=" + (opts.Timeout + 2*time.Minute).String()}, opts.Args()...)
	if !color {
		args = append(args, "-ginkgo.no-color")
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = filepath.Join(root, "scenarios") // where go test runs a package's tests
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.ExtraFiles = []*os.File{send} // fd 3
	cmd.Env = append(os.Environ(), progress.EnvFD+"=3")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Start(); err != nil {
		send.Close()
		return fmt.Errorf("starting the suite: %w", err)
	}
	send.Close() // the suite holds its own copy; the reader ends when the suite does
	read := make(chan struct{})
	go func() {
		defer close(read)
		_ = progress.Read(events, printer.Handle)
	}()
	runErr := cmd.Wait()
	<-read
	return runErr
}

// lastLines returns the last n lines of the file at path ("" if it cannot be read).
func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// isTerminal reports whether w is a terminal (a character device), where lines may be redrawn.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
