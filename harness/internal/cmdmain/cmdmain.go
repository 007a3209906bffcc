// Package cmdmain is the main function of the harness's own commands (seed, fakeexporter): the
// same signals, exit status and error line for each, so a caller such as the process target can
// stop and judge any of them alike.
package cmdmain

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Run calls run with the command line and the standard streams, under a context that SIGINT or
// SIGTERM cancels, so run can shut down cleanly. An error exits with status 2, printed as
// "name: err" unless it is flag.ErrHelp (the flag package printed the usage already).
func Run(name string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, name+":", err)
		}
		os.Exit(2)
	}
}
