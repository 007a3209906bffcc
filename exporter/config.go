package exporter

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// Config is everything the exporter can be told. Flags fill it; an EXPORTER_* environment variable
// only supplies a flag's default.
type Config struct {
	Listen         string
	DataDir        string
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

// DefaultConfig returns the defaults documented in the README.
func DefaultConfig() Config {
	return Config{
		Listen:        "127.0.0.1:8080",
		DataDir:       "./data",
		Rate:          50,
		Burst:         100,
		MaxCSVExports: 16,
		MaxPDFExports: 2,
		PDFMaxRows:    20000,
		MaxBodyBytes:  64 << 20,
		WriteTimeout:  30 * time.Second,
		ShutdownGrace: 30 * time.Second,
		LogLevel:      slog.LevelInfo,
	}
}

// RegisterFlags binds c to fs, taking each default from c or, when set, from its environment
// variable (getenv is os.Getenv outside tests). A malformed environment value is an error.
func (c *Config) RegisterFlags(fs *flag.FlagSet, getenv func(string) string) error {
	var errs []error
	env := func(name string, set func(string) error) string {
		if v := getenv("EXPORTER_" + name); v != "" {
			if err := set(v); err != nil {
				errs = append(errs, fmt.Errorf("EXPORTER_%s=%q: %w", name, v, err))
			}
		}
		return " (env EXPORTER_" + name + ")"
	}
	str := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	num := func(p *int) func(string) error {
		return func(v string) (err error) { *p, err = strconv.Atoi(v); return err }
	}
	dur := func(p *time.Duration) func(string) error {
		return func(v string) (err error) { *p, err = time.ParseDuration(v); return err }
	}
	// Environment first: a flag's default must already hold its environment value.
	u := map[string]string{
		"listen":           env("LISTEN", str(&c.Listen)),
		"data-dir":         env("DATA_DIR", str(&c.DataDir)),
		"tokens-file":      env("TOKENS_FILE", str(&c.TokensFile)),
		"insecure-no-auth": env("INSECURE_NO_AUTH", func(v string) (err error) { c.InsecureNoAuth, err = strconv.ParseBool(v); return err }),
		"rate":             env("RATE", func(v string) (err error) { c.Rate, err = strconv.ParseFloat(v, 64); return err }),
		"burst":            env("BURST", num(&c.Burst)),
		"max-csv-exports":  env("MAX_CSV_EXPORTS", num(&c.MaxCSVExports)),
		"max-pdf-exports":  env("MAX_PDF_EXPORTS", num(&c.MaxPDFExports)),
		"pdf-max-rows":     env("PDF_MAX_ROWS", num(&c.PDFMaxRows)),
		"max-body-bytes":   env("MAX_BODY_BYTES", func(v string) (err error) { c.MaxBodyBytes, err = strconv.ParseInt(v, 10, 64); return err }),
		"write-timeout":    env("WRITE_TIMEOUT", dur(&c.WriteTimeout)),
		"shutdown-grace":   env("SHUTDOWN_GRACE", dur(&c.ShutdownGrace)),
		"log-level":        env("LOG_LEVEL", func(v string) error { return c.LogLevel.UnmarshalText([]byte(v)) }),
	}
	fs.StringVar(&c.Listen, "listen", c.Listen, "address to serve on"+u["listen"])
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory of the bbolt store"+u["data-dir"])
	fs.StringVar(&c.TokensFile, "tokens-file", c.TokensFile, "`path` of a file of <token> <scopes> lines; required on a non-loopback listen address"+u["tokens-file"])
	fs.BoolVar(&c.InsecureNoAuth, "insecure-no-auth", c.InsecureNoAuth, "serve without auth even on a non-loopback address"+u["insecure-no-auth"])
	fs.Float64Var(&c.Rate, "rate", c.Rate, "per-client requests per second (token bucket); 0 turns rate limiting off"+u["rate"])
	fs.IntVar(&c.Burst, "burst", c.Burst, "per-client burst (bucket size)"+u["burst"])
	fs.IntVar(&c.MaxCSVExports, "max-csv-exports", c.MaxCSVExports, "concurrent CSV exports; more get 503"+u["max-csv-exports"])
	fs.IntVar(&c.MaxPDFExports, "max-pdf-exports", c.MaxPDFExports, "concurrent PDF exports; more get 503"+u["max-pdf-exports"])
	fs.IntVar(&c.PDFMaxRows, "pdf-max-rows", c.PDFMaxRows, "largest PDF export in rows; larger get 413"+u["pdf-max-rows"])
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest request body in bytes; larger get 413"+u["max-body-bytes"])
	fs.DurationVar(&c.WriteTimeout, "write-timeout", c.WriteTimeout, "cut off a client that stops reading for this long"+u["write-timeout"])
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", c.ShutdownGrace, "time in-flight requests get to finish after SIGTERM"+u["shutdown-grace"])
	fs.TextVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error"+u["log-level"])
	return errors.Join(errs...)
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen %q: %w", c.Listen, err))
	} else if c.TokensFile == "" && !c.InsecureNoAuth && !loopback(c.Listen) {
		errs = append(errs, fmt.Errorf("refusing to serve without auth on non-loopback address %s: give --tokens-file, or --insecure-no-auth to accept that", c.Listen))
	}
	if c.DataDir == "" {
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
