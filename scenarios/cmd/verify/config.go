package main

import (
	"errors"
	"flag"

	"github.com/exportatscale/exportatscale/harness/profile"
	"github.com/exportatscale/exportatscale/internal/envflag"
	"github.com/exportatscale/exportatscale/scenarios/options"
)

// config is what one run of verify does: the suite's options, which it forwards, and its own
// settings, which the suite never sees.
type config struct {
	options.Options
	// SignKey is an ed25519 private key (PEM, PKCS#8, as `evidence keygen` writes it); when set,
	// the run's bundle is signed with it, whatever its verdict.
	SignKey string
	// ProfileCheck is a profile (harness/profile) to validate instead of running: verify prints
	// what it declares and which checks would not apply, or its problems.
	ProfileCheck string
	Quiet        bool // print only the summary of the checks
}

func defaultConfig() config { return config{Options: options.Defaults()} }

// register declares every flag of verify on fs: the suite's options and verify's own, each with a
// VERIFY_* environment default, except --quiet. A malformed environment value is an error naming
// the variable.
func (c *config) register(fs *flag.FlagSet) error {
	optsErr := c.Options.Register(fs)
	own := flag.NewFlagSet("verify", flag.ContinueOnError)
	own.StringVar(&c.SignKey, "sign-key", c.SignKey, "ed25519 private key (PEM, from `evidence keygen`) to sign the bundle with, whatever its verdict: writes <out>/<run-id>/attestation.intoto.json")
	own.StringVar(&c.ProfileCheck, "profile-check", c.ProfileCheck, "validate this profile of an export API, print what it declares and which checks would not apply, and run nothing")
	ownErr := envflag.Bind(fs, own, options.EnvPrefix)
	fs.BoolVar(&c.Quiet, "quiet", c.Quiet, "print only the summary of the checks, not the run's progress")
	return errors.Join(optsErr, ownErr)
}

// Validate reports what is wrong with c before anything runs: the options' problems or, when
// they are right, every file given that cannot be used, one line each, naming the file.
func (c config) Validate() error {
	if err := c.Options.Validate(); err != nil {
		return err
	}
	var errs []error
	if c.Profile != "" {
		_, err := profile.Load(c.Profile) // every problem, a line each with its file, line and field
		errs = append(errs, err)
	}
	if c.Thresholds != "" {
		errs = append(errs, checkThresholds(c.Thresholds))
	}
	if c.Baseline != "" {
		errs = append(errs, checkBaseline(c.Baseline))
	}
	if c.SignKey != "" {
		_, err := loadSignKey(c.SignKey)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
