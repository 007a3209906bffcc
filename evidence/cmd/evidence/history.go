package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/exportatscale/exportatscale/evidence/compare"
)

const historyUsage = `usage: evidence history [--html FILE] DIR...
  print the trend of the main measures over the bundles DIR..., oldest first (by start time)
  --html FILE   also write it as one self-contained HTML page with a chart per measure
exit codes: 0 printed, 3 a bundle unreadable or the page not written, 4 usage
`

// historyConfig is what `evidence history` reads, and where it writes the page.
type historyConfig struct {
	Dirs []string
	HTML string // empty: no page
}

// historyCmd parses the arguments of `evidence history` and runs it.
func historyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c historyConfig
	fs := flag.NewFlagSet("evidence history", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.HTML, "html", "", "write the history as a self-contained HTML page to this file")
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, err := io.WriteString(stdout, historyUsage)
		return err
	case err == nil && fs.NArg() == 0:
		err = errors.New("history wants at least one bundle directory, after the flags")
	}
	if err != nil {
		io.WriteString(stderr, historyUsage)
		return &exitError{exitUsage, err}
	}
	c.Dirs = fs.Args()
	return runHistory(ctx, c, stdout)
}

// runHistory prints the history of c.Dirs and writes its page when asked.
func runHistory(ctx context.Context, c historyConfig, stdout io.Writer) error {
	var bundles []compare.Bundle
	for _, dir := range c.Dirs {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := compare.Load(dir)
		if err != nil {
			return &exitError{exitUnverifiable, fmt.Errorf("%s: %w", dir, err)}
		}
		bundles = append(bundles, b)
	}
	h := compare.NewHistory(bundles)
	if err := compare.RenderHistory(stdout, h); err != nil {
		return err
	}
	if c.HTML == "" {
		return nil
	}
	var page bytes.Buffer
	if err := compare.RenderHistoryHTML(&page, h); err != nil {
		return &exitError{exitUnverifiable, fmt.Errorf("history page: %w", err)}
	}
	if err := os.WriteFile(c.HTML, page.Bytes(), 0o644); err != nil {
		return &exitError{exitUnverifiable, err}
	}
	fmt.Fprintf(stdout, "\nwrote %s\n", c.HTML)
	return nil
}
