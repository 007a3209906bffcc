// Command evidence checks, shows and signs evidence bundles written by an acceptance run.
//
//	evidence verify [--key PUB [--image-digest sha256:…]] <dir>
//	    re-hash the bundle, re-decide its verdict, print it; with --key also check its attestation
//	evidence show <dir>
//	    print the bundle's EVIDENCE.md
//	evidence keygen [--out-key FILE] [--out-pub FILE]
//	    write a new ed25519 key pair (PEM)
//	evidence attest --key KEY [--url URL] <dir>
//	    sign the bundle's verdict: write <dir>/attestation.intoto.json
//
// Exit codes: 0 GREEN, 1 RED, 2 NOT RUN (verify); 3 bundle tampered with or unreadable, or (verify
// --key) attestation missing, invalid, not signed by that key or not about that image, or (keygen,
// attest) nothing written; 4 usage error. show, keygen and attest exit 0 when they did their job.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	v1 "github.com/in-toto/attestation/go/v1"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/attest"
)

// Exit codes beyond the verdict's own 0, 1 and 2.
const (
	exitUnverifiable = 3
	exitUsage        = 4
)

const usage = `usage:
  evidence verify [--key PUB [--image-digest sha256:...]] <dir>
        re-hash the bundle in dir, re-decide its verdict, print it; with --key, also require
        dir/attestation.intoto.json signed with PUB, about this bundle (and that image), GREEN
  evidence show <dir>
        print the bundle's EVIDENCE.md
  evidence keygen [--out-key evidence.key] [--out-pub evidence.pub]
        write a new ed25519 key pair, PEM: PKCS#8 private key (mode 0600), PKIX public key
  evidence attest --key KEY [--url URL] <dir>
        sign the verdict: write dir/attestation.intoto.json, an in-toto test-result statement in
        a DSSE envelope; URL defaults to the GitHub Actions run, when there is one
  evidence compare [--rules FILE] BASE NEW
        every measure both bundles have: base, new, delta, verdict; exit 1 on a regression
  evidence history [--html FILE] DIR...
        the trend of the main measures, oldest first; --html also writes it as a page of charts

Flags go before <dir>.
Exit codes: 0 GREEN (or done), 1 RED, 2 NOT RUN, 3 tampered, unreadable or not signed as asked,
4 usage.
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

// verifyConfig is what `evidence verify` checks.
type verifyConfig struct {
	Dir         string
	Key         string // public key (PEM); empty: the attestation is not checked
	ImageDigest string // "sha256:…" the attestation must name; needs Key
}

// attestConfig is what `evidence attest` signs, and with what.
type attestConfig struct {
	Dir string
	Key string // private key (PEM)
	URL string // the CI run's URL, or empty
}

// keygenConfig says where `evidence keygen` writes the key pair.
type keygenConfig struct {
	OutKey, OutPub string
}

// run executes one subcommand; the error it returns carries the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		_, err := io.WriteString(stdout, usage)
		return err
	}
	if len(args) == 0 {
		io.WriteString(stderr, usage)
		return &exitError{exitUsage, errors.New("want a subcommand")}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "verify":
		var c verifyConfig
		pos, err := parseFlags(cmd, args, 1, stdout, stderr, func(fs *flag.FlagSet) {
			fs.StringVar(&c.Key, "key", "", "public key (PEM) the attestation must be signed with")
			fs.StringVar(&c.ImageDigest, "image-digest", "", "image digest (sha256:…) the attestation must name")
		})
		if err != nil || pos == nil {
			return err
		}
		c.Dir = pos[0]
		switch {
		case c.ImageDigest != "" && c.Key == "":
			io.WriteString(stderr, usage)
			return &exitError{exitUsage, errors.New("--image-digest is checked against the signed attestation: give --key too")}
		case c.Key == "":
			return verify(c.Dir, stdout)
		}
		return verifySigned(ctx, c, stdout)
	case "compare":
		return compareCmd(ctx, args, stdout, stderr)
	case "history":
		return historyCmd(ctx, args, stdout, stderr)
	case "show":
		pos, err := parseFlags(cmd, args, 1, stdout, stderr, func(*flag.FlagSet) {})
		if err != nil || pos == nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(pos[0], evidence.FileMarkdown))
		if err != nil {
			return &exitError{exitUnverifiable, err}
		}
		_, err = stdout.Write(b)
		return err
	case "keygen":
		var c keygenConfig
		pos, err := parseFlags(cmd, args, 0, stdout, stderr, func(fs *flag.FlagSet) {
			fs.StringVar(&c.OutKey, "out-key", "evidence.key", "where to write the private key (PEM, PKCS#8, mode 0600)")
			fs.StringVar(&c.OutPub, "out-pub", "evidence.pub", "where to write the public key (PEM, PKIX)")
		})
		if err != nil || pos == nil {
			return err
		}
		return keygen(c, stdout)
	case "attest":
		var c attestConfig
		pos, err := parseFlags(cmd, args, 1, stdout, stderr, func(fs *flag.FlagSet) {
			fs.StringVar(&c.Key, "key", "", "private key (PEM, PKCS#8 ed25519) to sign with")
			fs.StringVar(&c.URL, "url", attest.GitHubRunURL(os.Getenv), "URL of the CI run, recorded in the attestation")
		})
		if err != nil || pos == nil {
			return err
		}
		c.Dir = pos[0]
		if c.Key == "" {
			io.WriteString(stderr, usage)
			return &exitError{exitUsage, errors.New("attest needs --key")}
		}
		return sign(ctx, c, stdout)
	}
	io.WriteString(stderr, usage)
	return &exitError{exitUsage, fmt.Errorf("unknown subcommand %q", cmd)}
}

// parseFlags parses one subcommand's flags, as define declares them, and returns its want
// positional arguments. Both results are nil when help was asked for, and printed.
func parseFlags(cmd string, args []string, want int, stdout, stderr io.Writer, define func(*flag.FlagSet)) ([]string, error) {
	return parseArgs(cmd, usage, args, func(pos []string) error {
		switch {
		case len(pos) != want && want == 0:
			return fmt.Errorf("%s takes no arguments, got %q", cmd, pos)
		case len(pos) != want:
			return fmt.Errorf("%s wants one bundle directory, after the flags; got %q", cmd, pos)
		}
		return nil
	}, stdout, stderr, define)
}

// parseArgs is parseFlags for any subcommand, compare and history included, which have a usage
// text of their own (help) and their own rule for the positional arguments (check): every
// subcommand answers -h, a bad flag and bad arguments alike. Both results are nil when help was
// asked for, and printed.
func parseArgs(cmd, help string, args []string, check func(pos []string) error, stdout, stderr io.Writer, define func(*flag.FlagSet)) ([]string, error) {
	fs := flag.NewFlagSet("evidence "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the usage text says it all
	define(fs)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, err := io.WriteString(stdout, help)
		return nil, err
	case err == nil:
		if err = check(fs.Args()); err == nil {
			return append([]string{}, fs.Args()...), nil
		}
	}
	io.WriteString(stderr, help)
	return nil, &exitError{exitUsage, err}
}

func verify(dir string, stdout io.Writer) error {
	r, err := evidence.VerifyBundle(dir)
	if err != nil {
		return &exitError{exitUnverifiable, fmt.Errorf("%s: %w", dir, err)}
	}
	fmt.Fprintf(stdout, "%s: every file matches SHA256SUMS (run %s, target %s)\nverdict: %s\n",
		dir, r.RunID, r.Environment.Target, r.Headline())
	if code := evidence.ExitCode(r.Verdict); code != 0 {
		return &exitError{code, fmt.Errorf("verdict %s", r.Verdict)}
	}
	return nil
}

// verifySigned verifies the bundle and its attestation. It exits 0 only for a GREEN verdict signed
// with the key, about this bundle and, when asked, that image; a verdict that is signed but not
// GREEN exits with the verdict's code.
func verifySigned(ctx context.Context, c verifyConfig, stdout io.Writer) error {
	pub, err := loadKey("public key", c.Key, attest.LoadPublicKey)
	if err != nil {
		return err
	}
	res, err := attest.Verify(ctx, c.Dir, pub, attest.Want{ImageDigest: c.ImageDigest})
	if err != nil && !errors.Is(err, attest.ErrNotGreen) {
		return &exitError{exitUnverifiable, fmt.Errorf("%s: %w", c.Dir, err)}
	}
	fmt.Fprintf(stdout, "%s: every file matches SHA256SUMS (run %s, target %s)\n", c.Dir, res.Report.RunID, res.Report.Environment.Target)
	fmt.Fprintf(stdout, "%s: signature valid (key %s) over:\n", filepath.Join(c.Dir, attest.FileName), res.KeyID)
	printSubjects(stdout, res.Statement)
	if c.ImageDigest != "" {
		fmt.Fprintf(stdout, "image: %s, as asked\n", c.ImageDigest)
	}
	fmt.Fprintf(stdout, "verdict: %s (signed result %s)\n", res.Report.Headline(), res.Predicate.GetResult())
	if err != nil {
		return &exitError{evidence.ExitCode(res.Report.Verdict), err}
	}
	return nil
}

func keygen(c keygenConfig, stdout io.Writer) error {
	if err := attest.WriteKeyPair(c.OutKey, c.OutPub, rand.Reader); err != nil {
		return &exitError{exitUnverifiable, err}
	}
	fmt.Fprintf(stdout, "private key: %s (mode 0600; keep it secret)\npublic key:  %s\n", c.OutKey, c.OutPub)
	return nil
}

func sign(ctx context.Context, c attestConfig, stdout io.Writer) error {
	key, err := loadKey("private key", c.Key, attest.LoadPrivateKey)
	if err != nil {
		return err
	}
	st, err := attest.Sign(ctx, c.Dir, key, attest.Options{URL: c.URL})
	if err != nil {
		return &exitError{exitUnverifiable, err}
	}
	keyID, _ := key.KeyID()
	result := st.GetPredicate().GetFields()["result"].GetStringValue()
	fmt.Fprintf(stdout, "%s: %s, signed (key %s) over:\n", filepath.Join(c.Dir, attest.FileName), result, keyID)
	printSubjects(stdout, st)
	return nil
}

// loadKey reads the PEM file path and parses it with load. verify and attest both take a key file
// from the command line, so a file that cannot be read or parsed is a usage error (exit 4), named
// as what (public or private key) and, once read, by its path.
func loadKey[K any](what, path string, load func([]byte) (K, error)) (K, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		var zero K
		return zero, &exitError{exitUsage, fmt.Errorf("%s: %w", what, err)}
	}
	key, err := load(pem)
	if err != nil {
		return key, &exitError{exitUsage, fmt.Errorf("%s %s: %w", what, path, err)}
	}
	return key, nil
}

// printSubjects lists what the statement is about, one subject a line.
func printSubjects(w io.Writer, st *v1.Statement) {
	for _, s := range st.GetSubject() {
		name, digest := s.GetName(), "sha256:"+s.GetDigest()["sha256"]
		if name == digest {
			name = "image" // named by its digest: the bundle records no reference
		}
		fmt.Fprintf(w, "  %s  %s\n", name, digest)
	}
}
