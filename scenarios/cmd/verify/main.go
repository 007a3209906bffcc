// Command verify runs the acceptance suite once and turns its evidence into an exit code:
// 0 GREEN, 1 RED, 2 NOT RUN. The verdict is read back from the evidence bundle the suite wrote,
// after its checksums are verified — never from the test runner's own exit status.
//
// Configuration that cannot be used — a bad flag, a --thresholds file, a --baseline bundle or a
// --sign-key that cannot be read as the run would read it — is refused before anything starts,
// one line naming the file and what is wrong: 2, and no bundle written.
//
// With --profile-check FILE it runs nothing: it validates the profile (harness/profile) and
// prints what it declares and which checks would not apply (0), or each problem of the file,
// a line each with its line number and field (2).
//
// With --sign-key the bundle is signed, whatever its verdict, as `evidence attest --key` signs it:
// attestation.intoto.json in the bundle's directory. The exit status still follows the verdict,
// except that a GREEN run whose bundle could not be signed exits 3.
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
	"github.com/exportatscale/exportatscale/evidence/attest"
	"github.com/exportatscale/exportatscale/harness/pipeline"
	"github.com/exportatscale/exportatscale/internal/envflag"
	"github.com/exportatscale/exportatscale/scenarios/options"
	"github.com/exportatscale/exportatscale/scenarios/progress"
)

// exitUnsigned is the exit status of a GREEN run whose bundle could not be signed; a RED or NOT
// RUN run keeps its own.
const exitUnsigned = 3

// unsignedError says that the bundle in dir could not be signed.
type unsignedError struct {
	dir string
	err error
}

func (e *unsignedError) Error() string { return e.dir + ": not signed: " + e.err.Error() }
func (e *unsignedError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	verdict, err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exit(os.Stderr, verdict, err))
}

// exit reports err on stderr, a line "verify: …" for each of its lines, and returns the exit
// status of the run: the verdict's (evidence.ExitCode), or exitUnsigned for a GREEN run that
// could not be signed.
func exit(stderr io.Writer, verdict evidence.Verdict, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, "verify:", line)
		}
	}
	var unsigned *unsignedError
	if verdict == evidence.Green && errors.As(err, &unsigned) {
		return exitUnsigned
	}
	return evidence.ExitCode(verdict)
}

// run runs the suite with the options in args and returns the verdict of the evidence it wrote;
// any failure to get evidence is NOT RUN, and so is configuration refused before the suite starts.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (evidence.Verdict, error) {
	c := defaultConfig()
	const about = "Runs the acceptance suite (seed, smoke, load, A1–A6) and writes the evidence bundle.\nIt shows the run's progress and ends with a summary of every check; the suite's own output goes\nto <out>/<run-id>.suite.log. With --sign-key it signs the bundle, whatever its verdict.\nExit code: 0 GREEN, 1 RED, 2 NOT RUN or configuration refused before the run (nothing written),\n3 GREEN but the bundle could not be signed."
	if err := envflag.Parse("verify", about, args, stderr, c.register); err != nil {
		return evidence.NotRun, err
	}
	if err := c.Validate(); err != nil {
		return evidence.NotRun, err
	}
	if c.ProfileCheck != "" {
		// Nothing runs: a valid profile exits 0 as GREEN does, a refused one 2 as NOT RUN does.
		if err := checkProfile(c.ProfileCheck, pipeline.Capabilities{Baseline: c.Baseline != "", Soak: c.Soak > 0, Compare: c.Comparing()}, stdout); err != nil {
			return evidence.NotRun, err
		}
		return evidence.Green, nil
	}
	opts := c.Options
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
	printer := &progress.Printer{W: stdout, TTY: isTerminal(stdout) && getenv("CI") == "", Color: color, Quiet: c.Quiet}
	suiteLog := dir + ".suite.log"
	runErr := runSuite(ctx, root, opts, suiteLog, color, printer, stderr)
	return conclude(ctx, finish{dir: dir, runID: opts.RunID, suiteLog: suiteLog, suiteErr: runErr,
		signKey: c.SignKey, ciURL: attest.GitHubRunURL(getenv)}, printer, stdout, stderr)
}

// finish is what conclude needs of a run once the suite is done.
type finish struct {
	dir, runID string // where the suite was to write the bundle of run runID
	suiteLog   string
	suiteErr   error  // the suite's exit status: only a hint
	signKey    string // sign the bundle with this key (PEM), when not empty
	ciURL      string // the CI run, recorded in the attestation
}

// conclude reads the verdict of the run from the bundle the suite wrote, signs the bundle when
// asked (whatever its verdict), and prints the summary. A bundle that does not verify, or that is
// not this run's, is NOT RUN; a bundle verify judges otherwise than it says (GREEN, but the suite
// failed) is not signed, lest the attestation vouch for a verdict the run did not get.
func conclude(ctx context.Context, f finish, printer *progress.Printer, stdout, stderr io.Writer) (evidence.Verdict, error) {
	report, err := evidence.VerifyBundle(f.dir)
	if err != nil {
		if f.suiteErr != nil {
			err = errors.Join(err, fmt.Errorf("suite: %w", f.suiteErr))
		}
		if f.signKey != "" {
			err = errors.Join(err, &unsignedError{f.dir, errors.New("no valid evidence to sign")})
		}
		fmt.Fprintf(stdout, "\nverdict: %s (no valid evidence in %s)\n", evidence.NotRun, f.dir)
		if tail := lastLines(f.suiteLog, 30); tail != "" {
			fmt.Fprintf(stderr, "the suite's last lines (%s):\n%s\n", f.suiteLog, tail)
		}
		return evidence.NotRun, err
	}
	verdict := report.Verdict
	switch {
	case report.RunID != f.runID:
		verdict, err = evidence.NotRun, fmt.Errorf("the bundle in %s is of run %q, not %q", f.dir, report.RunID, f.runID)
	case verdict == evidence.Green && f.suiteErr != nil:
		// The bundle cannot be GREEN while the suite itself failed: something it did not judge broke.
		verdict, err = evidence.NotRun, fmt.Errorf("the suite failed (%v) although its evidence says GREEN", f.suiteErr)
	}
	if f.signKey != "" {
		signErr := fmt.Errorf("the run is %s although its bundle says %s", verdict, report.Verdict)
		if verdict == report.Verdict {
			signErr = signBundle(ctx, f.dir, f.signKey, f.ciURL)
		}
		if signErr != nil {
			err = errors.Join(err, &unsignedError{f.dir, signErr})
		}
	}
	report.Verdict = verdict
	var paths []string
	for _, name := range []string{evidence.FileMarkdown, "EVIDENCE.html", attest.FileName} {
		if _, err := os.Stat(filepath.Join(f.dir, name)); err == nil {
			paths = append(paths, filepath.Join(f.dir, name))
		}
	}
	printer.Summary(report, paths...)
	fmt.Fprintf(stdout, "suite log: %s\n", f.suiteLog)
	return verdict, err
}

// signBundle signs the bundle in dir with the key (PEM) at keyPath, as `evidence attest --key`
// does: attest.Sign writes dir/attestation.intoto.json, an in-toto test-result statement in a DSSE
// envelope, whatever the verdict, recording url as the CI run's. It signs nothing that does not
// verify.
func signBundle(ctx context.Context, dir, keyPath, url string) error {
	key, err := loadSignKey(keyPath)
	if err != nil {
		return err
	}
	_, err = attest.Sign(ctx, dir, key, attest.Options{URL: url})
	return err
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

	args := append([]string{"-test.timeout=" + (opts.RunTimeout() + 2*time.Minute).String()}, opts.Args()...)
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
