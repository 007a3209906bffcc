// Command exporter serves the reference streaming exporter. See docs/api.md for flags and the API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/exportatscale/exportatscale/exporter"
	"github.com/exportatscale/exportatscale/exporter/stores"
	"github.com/exportatscale/exportatscale/internal/envflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "exporter:", err)
			os.Exit(1)
		}
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := exporter.DefaultConfig()
	const about = "Serves the streaming CSV/PDF exporter. Each flag's default may come from its EXPORTER_* variable."
	if err := envflag.Parse("exporter", about, args, stderr, cfg.RegisterFlags); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	return exporter.Run(ctx, cfg, withFaults(stores.Open), logger, nil)
}
