package exporter

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/exportatscale/exportatscale/internal/contract"
	"github.com/exportatscale/exportatscale/internal/envflag"
)

// Config is everything the exporter can be told. Flags fill it; an EXPORTER_* environment variable
// only supplies a flag's default.
type Config struct {
	Listen         string
	DataDir        string
	PostgresDSN    string // not empty: the PostgreSQL store instead of bbolt
	TokensFile     string
	InsecureNoAuth bool
	Rate           float64 // per-client requests per second; 0 turns rate limiting off
	Burst          int
	MaxCSVExports  int
	MaxPDFExports  int
	PDFMaxRows     int
	MaxBodyBytes   int64
	WriteTimeout   time.Duration
	ShutdownGrace  time.Duration
	LogLevel       slog.Level
}

// DefaultConfig returns the defaults documented in docs/api.md.
// The protection limits come from contract.Defaults, which the fake exporter and the harness read
// too.
func DefaultConfig() Config {
	l := contract.Defaults()
	return Config{
		Listen:        "127.0.0.1:8080",
		DataDir:       "./data",
		Rate:          l.Rate,
		Burst:         l.Burst,
		MaxCSVExports: l.MaxCSVExports,
		MaxPDFExports: l.MaxPDFExports,
		PDFMaxRows:    l.PDFMaxRows,
		MaxBodyBytes:  64 << 20,
		WriteTimeout:  l.WriteTimeout,
		ShutdownGrace: l.ShutdownGrace,
		LogLevel:      slog.LevelInfo,
	}
}

// envPrefix names the environment variables of the flags: --max-csv-exports reads
// EXPORTER_MAX_CSV_EXPORTS.
const envPrefix = "EXPORTER"

// RegisterFlags binds c to fs, each flag's default taken from c or, when set, from its EXPORTER_*
// environment variable, which the flag's usage names. A malformed environment value is an error
// naming the variable.
func (c *Config) RegisterFlags(fs *flag.FlagSet) error {
	own := flag.NewFlagSet("exporter", flag.ContinueOnError)
	own.StringVar(&c.Listen, "listen", c.Listen, "address to serve on")
	own.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory of the bbolt store (unused with --postgres-dsn)")
	own.StringVar(&c.PostgresDSN, "postgres-dsn", c.PostgresDSN, "PostgreSQL connection string (postgres://user@host:port/db); the PostgreSQL store instead of bbolt")
	own.StringVar(&c.TokensFile, "tokens-file", c.TokensFile, "`path` of a file of <token> <scopes> lines; required on a non-loopback listen address")
	own.BoolVar(&c.InsecureNoAuth, "insecure-no-auth", c.InsecureNoAuth, "serve without auth even on a non-loopback address")
	own.Float64Var(&c.Rate, "rate", c.Rate, "per-client requests per second (token bucket); 0 turns rate limiting off")
	own.IntVar(&c.Burst, "burst", c.Burst, "per-client burst (bucket size)")
	own.IntVar(&c.MaxCSVExports, "max-csv-exports", c.MaxCSVExports, "concurrent CSV exports; more get 503")
	own.IntVar(&c.MaxPDFExports, "max-pdf-exports", c.MaxPDFExports, "concurrent PDF exports; more get 503")
	own.IntVar(&c.PDFMaxRows, "pdf-max-rows", c.PDFMaxRows, "largest PDF export in rows; larger get 413")
	own.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest request body in bytes; larger get 413")
	own.DurationVar(&c.WriteTimeout, "write-timeout", c.WriteTimeout, "cut off a client that stops reading for this long")
	own.DurationVar(&c.ShutdownGrace, "shutdown-grace", c.ShutdownGrace, "time in-flight requests get to finish after SIGTERM")
	own.TextVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	return envflag.Bind(fs, own, envPrefix)
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen %q: %w", c.Listen, err))
	} else if c.TokensFile == "" && !c.InsecureNoAuth && !loopback(c.Listen) {
		errs = append(errs, fmt.Errorf("refusing to serve without auth on non-loopback address %s: give --tokens-file, or --insecure-no-auth to accept that", c.Listen))
	}
	if c.DataDir == "" && c.PostgresDSN == "" {
		errs = append(errs, errors.New("--data-dir is required"))
	}
	if c.Rate < 0 {
		errs = append(errs, errors.New("--rate must be >= 0"))
	}
	if c.Rate > 0 && c.Burst < 1 {
		errs = append(errs, errors.New("--burst must be >= 1"))
	}
	for _, v := range []struct {
		name string
		n    int64
	}{{"--max-csv-exports", int64(c.MaxCSVExports)}, {"--max-pdf-exports", int64(c.MaxPDFExports)},
		{"--pdf-max-rows", int64(c.PDFMaxRows)}, {"--max-body-bytes", c.MaxBodyBytes}} {
		if v.n < 1 {
			errs = append(errs, fmt.Errorf("%s must be >= 1", v.name))
		}
	}
	if c.WriteTimeout <= 0 {
		errs = append(errs, errors.New("--write-timeout must be > 0"))
	}
	if c.ShutdownGrace < 0 {
		errs = append(errs, errors.New("--shutdown-grace must be >= 0"))
	}
	return errors.Join(errs...)
}

// loopback reports whether a listen address only accepts connections from this host.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
