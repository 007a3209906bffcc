// Command fakeexporter serves the harness's fake exporter (package fake), v1 and its second API
// shape alike, as a process, so the harness can start it through its process target and measure
// it from outside, as it measures the real exporter. It takes the flags the target passes (--listen, --data-dir, --tokens-file,
// --insecure-no-auth) and the exporter's limit flags, plus --fault to break one promise:
//
//	fakeexporter --listen 127.0.0.1:8080 --tokens-file tokens.txt --fault buffer-exports
//
// --faults-json switches on any of package fake's Faults. With --upstream it serves no fake of its
// own: it forwards to a running exporter and slows its exports by the timing faults, so a healthy
// exporter can be judged as a slow one. It logs one JSON line per request on
// stdout. It keeps its records in memory; --data-dir must exist but is not written. It stops gracefully
// on SIGTERM or an interrupt, exiting 0.
//
// Like the exporter, it reads each flag's default from its EXPORTER_* variable (--max-csv-exports
// from EXPORTER_MAX_CSV_EXPORTS, --faults-json from EXPORTER_FAULTS_JSON), so that built into an
// image it keeps the container contract the image target gives an image: environment only.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/exportatscale/exportatscale/harness/internal/cmdmain"
	"github.com/exportatscale/exportatscale/harness/internal/fake"
	"github.com/exportatscale/exportatscale/internal/contract"
	"github.com/peterbourgon/ff/v3"
)

func main() { cmdmain.Run("fakeexporter", run) }

// faults are the --fault values and the defect each one switches on.
var faults = map[string]func(*fake.Faults){
	"buffer-exports": func(f *fake.Faults) { f.BufferExports = true },
	"leak-16k":       func(f *fake.Faults) { f.LeakPerExport = 16 << 10 },
}

// config is the command line.
type config struct {
	Listen         string
	DataDir        string
	TokensFile     string
	InsecureNoAuth bool
	Rate           float64
	Burst          int
	MaxCSV         int
	MaxPDF         int
	PDFMaxRows     int
	WriteTimeout   time.Duration
	ShutdownGrace  time.Duration
	Faults         []string
	FaultsJSON     string
	Upstream       string
}

// Validate reports the first unusable setting.
func (c config) Validate() error {
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", c.Listen, err)
	}
	ip := net.ParseIP(host)
	loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
	switch {
	case !loopback && c.TokensFile == "" && !c.InsecureNoAuth:
		return fmt.Errorf("--listen %s is not loopback: give --tokens-file or --insecure-no-auth", c.Listen)
	case c.Rate < 0 || c.Burst < 0 || c.MaxCSV < 0 || c.MaxPDF < 0 || c.PDFMaxRows < 0:
		return errors.New("--rate, --burst, --max-csv-exports, --max-pdf-exports and --pdf-max-rows must not be negative")
	case c.WriteTimeout < 0 || c.ShutdownGrace < 0:
		return errors.New("--write-timeout and --shutdown-grace must not be negative")
	}
	if c.FaultsJSON != "" {
		dec := json.NewDecoder(strings.NewReader(c.FaultsJSON))
		dec.DisallowUnknownFields()
		if err := dec.Decode(new(fake.Faults)); err != nil {
			return fmt.Errorf("--faults-json: %w", err)
		}
	}
	for _, f := range c.Faults {
		if faults[f] == nil {
			return fmt.Errorf("unknown --fault %q (known: %s)", f, strings.Join(slices.Sorted(maps.Keys(faults)), ", "))
		}
	}
	if c.Upstream != "" {
		u, err := url.Parse(c.Upstream)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return fmt.Errorf("--upstream %q: want http://host:port", c.Upstream)
		}
		if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("--upstream %q: only a loopback address", c.Upstream)
		}
	}
	if c.DataDir != "" {
		if fi, err := os.Stat(c.DataDir); err != nil || !fi.IsDir() {
			return fmt.Errorf("--data-dir %q is not a directory", c.DataDir)
		}
	}
	return nil
}

// envPrefix names the flags' environment variables, as the exporter's: --rate reads EXPORTER_RATE.
const envPrefix = "EXPORTER"

// parseFlags fills a config from args, each flag's default taken from its EXPORTER_* variable when
// that is set and not empty.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := config{}
	fs := flag.NewFlagSet("fakeexporter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "address to serve on")
	fs.StringVar(&c.DataDir, "data-dir", "", "accepted for the target's sake; the fake keeps records in memory")
	fs.StringVar(&c.TokensFile, "tokens-file", "", "tokens file: `<token> <scopes>` per line, # starts a comment")
	fs.BoolVar(&c.InsecureNoAuth, "insecure-no-auth", false, "serve without auth on a non-loopback address")
	// The contract's flags, with the exporter's defaults (contract.Defaults): a target starts the
	// fake exactly as it starts the exporter.
	d := contract.Defaults()
	fs.Float64Var(&c.Rate, "rate", d.Rate, "per-client requests per second (0: no rate limit)")
	fs.IntVar(&c.Burst, "burst", d.Burst, "per-client bucket size")
	fs.IntVar(&c.MaxCSV, "max-csv-exports", d.MaxCSVExports, "concurrent CSV exports; more get 503 (0: unlimited)")
	fs.IntVar(&c.MaxPDF, "max-pdf-exports", d.MaxPDFExports, "concurrent PDF exports; more get 503 (0: unlimited)")
	fs.IntVar(&c.PDFMaxRows, "pdf-max-rows", d.PDFMaxRows, "larger PDF exports get 413 (0: 20000)")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", d.WriteTimeout, "a reader that stalls this long is cut off (0: 30s)")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", d.ShutdownGrace, "time in-flight requests get to finish after SIGTERM")
	fs.Func("fault", "a defect to switch on (repeatable): buffer-exports", func(s string) error {
		c.Faults = append(c.Faults, s)
		return nil
	})
	fs.StringVar(&c.Upstream, "upstream", "", "forward every request to this exporter (http://127.0.0.1:PORT), slowing its exports as the timing faults of --faults-json say")
	fs.StringVar(&c.FaultsJSON, "faults-json", "", "defects as a JSON object of package fake's Faults, e.g. {\"DropID\":7}")
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix(envPrefix)); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return c, c.Validate()
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	fc := fake.Config{Rate: c.Rate, Burst: c.Burst, MaxCSV: c.MaxCSV, MaxPDF: c.MaxPDF,
		PDFMaxRows: c.PDFMaxRows, WriteTimeout: c.WriteTimeout, Log: stdout}
	if c.FaultsJSON != "" {
		_ = json.Unmarshal([]byte(c.FaultsJSON), &fc.Faults) // validated by parseFlags
	}
	for _, f := range c.Faults {
		faults[f](&fc.Faults)
	}
	if c.TokensFile != "" {
		f, err := os.Open(c.TokensFile)
		if err != nil {
			return err
		}
		fc.Tokens, err = readTokens(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", c.TokensFile, err)
		}
	}

	l, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return err
	}
	var h http.Handler = fake.New(fc)
	if c.Upstream != "" {
		u, _ := url.Parse(c.Upstream) // validated by parseFlags
		h = fake.Proxy(u, fc.Faults)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	fmt.Fprintf(stdout, "fakeexporter: listening on %s (faults: %v %s)\n", l.Addr(), c.Faults, c.FaultsJSON)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	fmt.Fprintln(stdout, "fakeexporter: stopped")
	return nil
}

// readTokens reads a tokens file: one `<token> <scopes>` per line, scopes read, write or
// read,write; # starts a comment. The fake grants every known token both scopes.
func readTokens(r io.Reader) ([]string, error) {
	var tokens []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 || !slices.Contains([]string{"read", "write", "read,write", "write,read"}, f[1]) {
			return nil, fmt.Errorf("line %d: want `<token> <scopes>` with scopes read, write or read,write", n)
		}
		tokens = append(tokens, f[0])
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(tokens) == 0 {
		return nil, errors.New("no token")
	}
	return tokens, nil
}
