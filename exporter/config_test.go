package exporter

import (
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/internal/envflag"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

func TestConfigValidate(t *testing.T) {
	const refusal = "refusing to serve without auth on non-loopback address"
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr []string // substrings; none: valid
	}{
		{"defaults", func(c *Config) {}, nil},
		{"loopback IPv4", func(c *Config) { c.Listen = "127.0.0.2:9000" }, nil},
		{"loopback IPv6", func(c *Config) { c.Listen = "[::1]:9000" }, nil},
		{"localhost", func(c *Config) { c.Listen = "localhost:9000" }, nil},
		{"LOCALHOST", func(c *Config) { c.Listen = "LOCALHOST:9000" }, nil},
		{"rate off", func(c *Config) { c.Rate, c.Burst = 0, 0 }, nil},
		{"all interfaces without tokens", func(c *Config) { c.Listen = ":8080" }, []string{refusal + " :8080"}},
		{"0.0.0.0 without tokens", func(c *Config) { c.Listen = "0.0.0.0:8080" }, []string{refusal, "--tokens-file", "--insecure-no-auth"}},
		{"[::] without tokens", func(c *Config) { c.Listen = "[::]:8080" }, []string{refusal}},
		{"LAN address without tokens", func(c *Config) { c.Listen = "192.168.1.10:8080" }, []string{refusal}},
		{"host name without tokens", func(c *Config) { c.Listen = "exporter.internal:8080" }, []string{refusal}},
		{"non-loopback with tokens", func(c *Config) { c.Listen, c.TokensFile = "0.0.0.0:8080", "tokens.txt" }, nil},
		{"non-loopback insecure", func(c *Config) { c.Listen, c.InsecureNoAuth = "0.0.0.0:8080", true }, nil},
		{"listen without port", func(c *Config) { c.Listen = "127.0.0.1" }, []string{"--listen"}},
		{"empty listen", func(c *Config) { c.Listen = "" }, []string{"--listen"}},
		{"no data dir", func(c *Config) { c.DataDir = "" }, []string{"--data-dir is required"}},
		{"negative rate", func(c *Config) { c.Rate = -1 }, []string{"--rate must be >= 0"}},
		{"zero burst", func(c *Config) { c.Burst = 0 }, []string{"--burst must be >= 1"}},
		{"zero csv exports", func(c *Config) { c.MaxCSVExports = 0 }, []string{"--max-csv-exports must be >= 1"}},
		{"negative pdf exports", func(c *Config) { c.MaxPDFExports = -2 }, []string{"--max-pdf-exports must be >= 1"}},
		{"zero pdf rows", func(c *Config) { c.PDFMaxRows = 0 }, []string{"--pdf-max-rows must be >= 1"}},
		{"zero body bytes", func(c *Config) { c.MaxBodyBytes = 0 }, []string{"--max-body-bytes must be >= 1"}},
		{"zero write timeout", func(c *Config) { c.WriteTimeout = 0 }, []string{"--write-timeout must be > 0"}},
		{"negative shutdown grace", func(c *Config) { c.ShutdownGrace = -time.Second }, []string{"--shutdown-grace must be >= 0"}},
		{"zero shutdown grace", func(c *Config) { c.ShutdownGrace = 0 }, nil},
		{"every problem at once", func(c *Config) { c.Listen, c.DataDir, c.Rate, c.MaxCSVExports = "0.0.0.0:1", "", -1, 0 },
			[]string{refusal, "--data-dir", "--rate", "--max-csv-exports"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate = %q, want it to mention %q", err, want)
				}
			}
			if len(tt.wantErr) == 1 && strings.Count(err.Error(), "\n") != 0 {
				t.Errorf("one problem, several lines: %q", err)
			}
		})
	}
}

func TestDefaultConfigMatchesDocs(t *testing.T) {
	c := DefaultConfig()
	want := Config{Listen: "127.0.0.1:8080", DataDir: "./data", Rate: 50, Burst: 100, MaxCSVExports: 16,
		MaxPDFExports: 2, PDFMaxRows: 20000, MaxBodyBytes: 67108864, WriteTimeout: 30 * time.Second,
		ShutdownGrace: 30 * time.Second, LogLevel: slog.LevelInfo}
	if c != want {
		t.Errorf("DefaultConfig = %+v, want %+v", c, want)
	}
}

func TestRegisterFlags(t *testing.T) {
	// As the exporter's main parses its command line.
	parse := func(args []string) (Config, error) {
		c := DefaultConfig()
		err := envflag.Parse("test", "", args, io.Discard, c.RegisterFlags)
		return c, err
	}
	testkit.RunEnvFlagCases(t, envPrefix, DefaultConfig, parse, []testkit.EnvFlagCase[Config]{
		{Name: "defaults", Want: func(c *Config) {}},
		{Name: "every variable",
			Env: map[string]string{
				"EXPORTER_LISTEN": "127.0.0.1:9999", "EXPORTER_DATA_DIR": "/var/lib/exp", "EXPORTER_TOKENS_FILE": "/etc/tok",
				"EXPORTER_INSECURE_NO_AUTH": "true", "EXPORTER_RATE": "2.5", "EXPORTER_BURST": "7",
				"EXPORTER_MAX_CSV_EXPORTS": "3", "EXPORTER_MAX_PDF_EXPORTS": "4", "EXPORTER_PDF_MAX_ROWS": "500",
				"EXPORTER_MAX_BODY_BYTES": "1024", "EXPORTER_WRITE_TIMEOUT": "1m30s", "EXPORTER_SHUTDOWN_GRACE": "5s",
				"EXPORTER_LOG_LEVEL": "debug",
			},
			Want: func(c *Config) {
				c.Listen, c.DataDir, c.TokensFile, c.InsecureNoAuth = "127.0.0.1:9999", "/var/lib/exp", "/etc/tok", true
				c.Rate, c.Burst, c.MaxCSVExports, c.MaxPDFExports, c.PDFMaxRows = 2.5, 7, 3, 4, 500
				c.MaxBodyBytes, c.WriteTimeout, c.ShutdownGrace, c.LogLevel = 1024, 90*time.Second, 5*time.Second, slog.LevelDebug
			}},
		{Name: "every flag",
			Args: []string{"--listen", "[::1]:1", "--data-dir", "d", "--tokens-file", "t", "--insecure-no-auth",
				"--rate", "0", "--burst", "1", "--max-csv-exports", "9", "--max-pdf-exports", "8", "--pdf-max-rows", "7",
				"--max-body-bytes", "6", "--write-timeout", "5s", "--shutdown-grace", "4s", "--log-level", "warn"},
			Want: func(c *Config) {
				c.Listen, c.DataDir, c.TokensFile, c.InsecureNoAuth = "[::1]:1", "d", "t", true
				c.Rate, c.Burst, c.MaxCSVExports, c.MaxPDFExports, c.PDFMaxRows = 0, 1, 9, 8, 7
				c.MaxBodyBytes, c.WriteTimeout, c.ShutdownGrace, c.LogLevel = 6, 5*time.Second, 4*time.Second, slog.LevelWarn
			}},
		{Name: "flag overrides env",
			Env:  map[string]string{"EXPORTER_RATE": "5", "EXPORTER_BURST": "10", "EXPORTER_LOG_LEVEL": "error"},
			Args: []string{"-rate=7", "--log-level=info"},
			Want: func(c *Config) { c.Rate, c.Burst, c.LogLevel = 7, 10, slog.LevelInfo }},
		{Name: "insecure from env, off by flag",
			Env:  map[string]string{"EXPORTER_INSECURE_NO_AUTH": "1"},
			Args: []string{"--insecure-no-auth=false"},
			Want: func(c *Config) {}},
		{Name: "empty env is unset", Env: map[string]string{"EXPORTER_RATE": "", "EXPORTER_LISTEN": ""}, Want: func(c *Config) {}},
		{Name: "malformed rate", Env: map[string]string{"EXPORTER_RATE": "fast"}, WantErr: `environment variable "EXPORTER_RATE"`},
		{Name: "malformed burst", Env: map[string]string{"EXPORTER_BURST": "1.5"}, WantErr: `environment variable "EXPORTER_BURST"`},
		{Name: "malformed duration", Env: map[string]string{"EXPORTER_WRITE_TIMEOUT": "30"}, WantErr: `environment variable "EXPORTER_WRITE_TIMEOUT"`},
		{Name: "malformed bool", Env: map[string]string{"EXPORTER_INSECURE_NO_AUTH": "yes please"}, WantErr: "EXPORTER_INSECURE_NO_AUTH"},
		{Name: "malformed body bytes", Env: map[string]string{"EXPORTER_MAX_BODY_BYTES": "64MB"}, WantErr: "EXPORTER_MAX_BODY_BYTES"},
		{Name: "malformed log level", Env: map[string]string{"EXPORTER_LOG_LEVEL": "loud"}, WantErr: "EXPORTER_LOG_LEVEL"},
		// ff stops at the first malformed variable, in flag name order.
		{Name: "two malformed", Env: map[string]string{"EXPORTER_PDF_MAX_ROWS": "x", "EXPORTER_SHUTDOWN_GRACE": "y"}, WantErr: "EXPORTER_PDF_MAX_ROWS"},
	})
}

func TestRegisterFlagsUsage(t *testing.T) {
	n := 0
	flagSet(t).VisitAll(func(f *flag.Flag) {
		n++
		env := "EXPORTER_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if !strings.Contains(f.Usage, "(env "+env+")") {
			t.Errorf("--%s usage %q does not name %s", f.Name, f.Usage, env)
		}
	})
	if n != 14 {
		t.Errorf("%d flags, want the 14 of docs/api.md", n)
	}
}

// setEnv gives the test exactly the envPrefix_* variables of env (testkit.SetEnv).
func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	testkit.SetEnv(t, envPrefix, env)
}

// flagSet is DefaultConfig's flags with no EXPORTER_* variable set.
func flagSet(t *testing.T) *flag.FlagSet {
	t.Helper()
	setEnv(t, nil)
	c := DefaultConfig()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	if err := c.RegisterFlags(fs); err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestEnvVarPerFlag sets each flag's variable, named as its usage says, to "7": the flag takes it,
// or RegisterFlags refuses it naming the variable. Either way ff read the variable envVar names.
func TestEnvVarPerFlag(t *testing.T) {
	flagSet(t).VisitAll(func(f *flag.Flag) {
		t.Run(f.Name, func(t *testing.T) {
			env := envflag.Var(envPrefix, f.Name)
			if want := "EXPORTER_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")); env != want {
				t.Fatalf("envVar(%q) = %s, want %s", f.Name, env, want)
			}
			setEnv(t, map[string]string{env: "7"})
			c := DefaultConfig()
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			err := c.RegisterFlags(fs)
			switch got := fs.Lookup(f.Name).Value.String(); {
			case err != nil && !strings.Contains(err.Error(), `environment variable "`+env+`"`):
				t.Errorf("%s=7: error %q does not name it", env, err)
			case err == nil && (got != "7" || fs.Lookup(f.Name).DefValue != "7"):
				t.Errorf("%s=7: --%s is %q (default %q), want 7", env, f.Name, got, fs.Lookup(f.Name).DefValue)
			}
		})
	})
}

// TestFlagsMatchDocs checks the flag table of docs/api.md against the flags, row by row: the same
// flags, each variable the one it reads, each default the flag's.
func TestFlagsMatchDocs(t *testing.T) {
	fs, scratch := flagSet(t), flagSet(t)
	problems, err := envflag.CheckDoc("../docs/api.md", "## Flags", envPrefix, fs, scratch)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
