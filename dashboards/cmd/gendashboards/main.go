// Command gendashboards writes the exporter's Grafana dashboard, built in package dashboards, as
// the JSON committed in dashboards/exporter.json.
//
// Usage (from the repository root):
//
//	go run ./dashboards/cmd/gendashboards [-o dashboards/exporter.json]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/exportatscale/exportatscale/dashboards"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gendashboards:", err)
		os.Exit(1)
	}
}

func run(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gendashboards", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "dashboards/exporter.json", "output file; - writes to stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}

	d, err := dashboards.Exporter()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := dashboards.WriteJSON(&buf, d); err != nil {
		return err
	}
	if *out == "-" {
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write dashboard: %w", err)
	}
	return nil
}
