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
	pos, err := parseArgs("history", historyUsage, args, func(pos []string) error {
		if len(pos) == 0 {
			return errors.New("history wants at least one bundle directory, after the flags")
		}
		return nil
	}, stdout, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&c.HTML, "html", "", "write the history as a self-contained HTML page to this file")
	})
	if err != nil || pos == nil {
		return err
	}
	c.Dirs = pos
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
