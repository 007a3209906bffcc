// Command evidence checks and shows evidence bundles written by an acceptance run.
//
//	evidence verify <dir>   re-hash the bundle, re-decide its verdict, print it
//	evidence show <dir>     print the bundle's EVIDENCE.md
//
// Exit codes: 0 GREEN, 1 RED, 2 NOT RUN (verify), 3 bundle tampered with or unreadable,
// 4 usage error. show exits 0 when it printed the report.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/exportatscale/exportatscale/evidence"
)

// Exit codes beyond the verdict's own 0, 1 and 2.
const (
	exitUnverifiable = 3
	exitUsage        = 4
)

const usage = `usage:
  evidence verify <dir>   re-hash the bundle in dir, re-decide its verdict, print it
  evidence show <dir>     print the bundle's EVIDENCE.md

exit codes: 0 GREEN, 1 RED, 2 NOT RUN, 3 tampered or unreadable, 4 usage
`

// exitError carries the exit code a failed run maps to.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err on stderr and returns the code it maps to.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "evidence:", err)
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return exitUnverifiable
}

// run executes one subcommand; the error it returns carries the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		_, err := io.WriteString(stdout, usage)
		return err
	}
	if len(args) != 2 {
		io.WriteString(stderr, usage)
		return &exitError{exitUsage, errors.New("want a subcommand and a bundle directory")}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cmd, dir := args[0], args[1]
	switch cmd {
	case "verify":
		return verify(dir, stdout)
	case "show":
		b, err := os.ReadFile(filepath.Join(dir, evidence.FileMarkdown))
		if err != nil {
			return &exitError{exitUnverifiable, err}
		}
		_, err = stdout.Write(b)
		return err
	}
	io.WriteString(stderr, usage)
	return &exitError{exitUsage, fmt.Errorf("unknown subcommand %q", cmd)}
}

func verify(dir string, stdout io.Writer) error {
	r, err := evidence.VerifyBundle(dir)
	if err != nil {
		return &exitError{exitUnverifiable, fmt.Errorf("%s: %w", dir, err)}
	}
	fmt.Fprintf(stdout, "%s: every file matches SHA256SUMS (run %s, target %s)\nverdict: %s\n",
		dir, r.RunID, r.Environment.Target, r.Verdict)
	if code := evidence.ExitCode(r.Verdict); code != 0 {
		return &exitError{code, fmt.Errorf("verdict %s", r.Verdict)}
	}
	return nil
}
