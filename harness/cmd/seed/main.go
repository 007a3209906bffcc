// Command seed loads deterministic trade records into an exporter and writes a manifest of what
// was sent.
//
//	seed --url http://127.0.0.1:8080 --rows 10000 --mode batch --seed 42 --manifest seed.json
//
// The token comes from --token or, as its default, EXPORTER_TOKEN.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/exportatscale/exportatscale/harness/api"
	"github.com/exportatscale/exportatscale/harness/internal/cmdmain"
	"github.com/exportatscale/exportatscale/harness/seed"
)

func main() { cmdmain.Run("seed", run) }

// config is the command line.
type config struct {
	URL         string
	Token       string
	Dataset     string
	Rows        int
	FirstID     int64
	Mode        string
	Seed        uint64
	Concurrency int
	ChunkSize   int
	Manifest    string
	Timeout     time.Duration
}

// Validate reports the first unusable setting.
func (c config) Validate() error {
	switch {
	case c.URL == "":
		return errors.New("--url is required")
	case c.Rows < 0:
		return errors.New("--rows must not be negative")
	case c.FirstID < 1:
		return errors.New("--first-id must be positive")
	case c.Mode != string(seed.ModeBatch) && c.Mode != string(seed.ModeSingle):
		return fmt.Errorf("--mode must be single or batch, not %q", c.Mode)
	case c.Concurrency < 1:
		return errors.New("--concurrency must be at least 1")
	case c.ChunkSize < 1:
		return errors.New("--chunk-size must be at least 1")
	case c.Timeout <= 0:
		return errors.New("--timeout must be positive")
	}
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := config{}
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080", "exporter base URL")
	fs.StringVar(&cfg.Token, "token", os.Getenv("EXPORTER_TOKEN"), "bearer token with write scope (default $EXPORTER_TOKEN)")
	fs.StringVar(&cfg.Dataset, "dataset", "trades", "dataset to create and fill")
	fs.IntVar(&cfg.Rows, "rows", 1000, "records to generate")
	fs.Int64Var(&cfg.FirstID, "first-id", 1, "id of the first record")
	fs.StringVar(&cfg.Mode, "mode", "batch", "single (one record per request) or batch (NDJSON chunks)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "PRNG seed; the same seed gives the same records")
	fs.IntVar(&cfg.Concurrency, "concurrency", 8, "requests in flight")
	fs.IntVar(&cfg.ChunkSize, "chunk-size", 1000, "records per batch request")
	fs.StringVar(&cfg.Manifest, "manifest", "", "write the manifest JSON to this file (default: stdout)")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	client := &seed.Client{API: api.V1(cfg.URL, cfg.Token), Progress: func(p seed.Progress) {
		pct := 100.0
		if p.Total > 0 {
			pct = 100 * float64(p.Done) / float64(p.Total)
		}
		fmt.Fprintf(stderr, "\rseeded %d/%d (%.1f%%)  %.0f records/s  ETA %s   ",
			p.Done, p.Total, pct, p.RecordsPerSecond, p.ETA.Round(time.Second))
	}}
	if _, err := client.CreateDataset(ctx, cfg.Dataset, seed.Trades()); err != nil {
		return err
	}
	m, err := client.Seed(ctx, seed.Job{
		Dataset:     cfg.Dataset,
		Schema:      seed.Trades(),
		Seed:        cfg.Seed,
		Records:     seed.Generate(cfg.Seed, cfg.Rows, cfg.FirstID),
		Mode:        seed.Mode(cfg.Mode),
		ChunkSize:   cfg.ChunkSize,
		Concurrency: cfg.Concurrency,
	})
	fmt.Fprintln(stderr)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if cfg.Manifest == "" {
		_, err = stdout.Write(b)
		return err
	}
	if err := os.WriteFile(cfg.Manifest, b, 0o644); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	fmt.Fprintf(stdout, "seeded %d records into %s (%s) in %s; manifest %s\n",
		m.Rows, m.Dataset, m.Mode, m.Duration.Round(time.Millisecond), cfg.Manifest)
	return nil
}
