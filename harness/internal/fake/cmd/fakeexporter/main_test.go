package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/internal/contract"
	"github.com/exportatscale/exportatscale/internal/testkit"
	"github.com/onsi/gomega"
)

func TestReadTokens(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
		err      string
	}{
		{name: "scopes", in: "# tokens\nt1 read,write\n\n  t2 read # reader\nt3 write\n", want: []string{"t1", "t2", "t3"}},
		{name: "no scopes", in: "t1\n", err: "line 1"},
		{name: "unknown scope", in: "t1 read\nt2 admin\n", err: "line 2"},
		{name: "empty", in: "# nothing\n", err: "no token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readTokens(strings.NewReader(tt.in))
			if testkit.WantErr(t, err, tt.err) {
				return
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("got %q; want %q", got, tt.want)
			}
		})
	}
}

// clearEnv empties every EXPORTER_* variable for the test (testkit.SetEnv).
func clearEnv(t *testing.T) {
	t.Helper()
	testkit.SetEnv(t, envPrefix, nil)
}

func TestFlags(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	tests := []struct {
		args []string
		err  string // "" for valid
	}{
		{args: []string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--rate=100", "--burst=50", "--max-csv-exports=10", "--fault", "buffer-exports"}},
		{args: []string{"--fault=leak"}, err: `unknown --fault "leak"`},
		{args: []string{"--listen", "0.0.0.0:8080"}, err: "not loopback"},
		{args: []string{"--listen", "0.0.0.0:8080", "--insecure-no-auth"}},
		{args: []string{"--data-dir", filepath.Join(dir, "missing")}, err: "not a directory"},
		{args: []string{"--rate=-1"}, err: "negative"},
		{args: []string{"--nope"}, err: "not defined"},
		{args: []string{"extra"}, err: "unexpected arguments"},
	}
	for _, tt := range tests {
		_, err := parseFlags(tt.args, io.Discard)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%q: %v", tt.args, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%q: err = %v, want one mentioning %q", tt.args, err, tt.err)
		}
	}
	// The v1 profile's service env (the container contract, its limits filled in) and a fault, as
	// a target starts the fake.
	fill := strings.NewReplacer("{listen}", "127.0.0.1:0", "{data_dir}", dir, "{tokens_file}", "t.txt")
	for k, v := range testkit.V1Env(nil) {
		t.Setenv(k, fill.Replace(v))
	}
	c, err := parseFlags([]string{"--fault=buffer-exports"}, io.Discard)
	want := config{Listen: "127.0.0.1:0", DataDir: dir, TokensFile: "t.txt", Rate: 100, Burst: 50, MaxCSV: 10,
		MaxPDF: 2, PDFMaxRows: 20000, WriteTimeout: 4 * time.Second, ShutdownGrace: 15 * time.Second,
		Faults: []string{"buffer-exports"}}
	if err != nil || !reflect.DeepEqual(c, want) {
		t.Errorf("parsed %+v, %v; want %+v", c, err, want)
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}

// TestEnv configures the fake as the image target configures an image, by the container contract's
// EXPORTER_* variables alone; a flag still overrides its variable.
func TestEnv(t *testing.T) {
	dir := t.TempDir()
	contractEnv := map[string]string{
		"EXPORTER_LISTEN": "0.0.0.0:8080", "EXPORTER_TOKENS_FILE": "/tokens.txt", "EXPORTER_DATA_DIR": dir,
		"EXPORTER_RATE": "100", "EXPORTER_BURST": "50", "EXPORTER_MAX_CSV_EXPORTS": "10", "EXPORTER_MAX_PDF_EXPORTS": "2",
		"EXPORTER_PDF_MAX_ROWS": "20000", "EXPORTER_WRITE_TIMEOUT": "4s", "EXPORTER_SHUTDOWN_GRACE": "15s",
		"EXPORTER_FAULTS_JSON": `{"DropID":7}`,
	}
	want := config{Listen: "0.0.0.0:8080", TokensFile: "/tokens.txt", DataDir: dir, Rate: 100, Burst: 50, MaxCSV: 10, MaxPDF: 2,
		PDFMaxRows: 20000, WriteTimeout: 4 * time.Second, ShutdownGrace: 15 * time.Second, FaultsJSON: `{"DropID":7}`}
	parse := func(args []string) (config, error) { return parseFlags(args, io.Discard) }
	testkit.RunEnvFlagCases(t, envPrefix, func() config { return want }, parse, []testkit.EnvFlagCase[config]{
		{Name: "contract", Env: contractEnv, Want: func(*config) {}},
		{Name: "flag overrides its variable", Env: contractEnv, Args: []string{"--rate=5", "--faults-json={}"},
			Want: func(c *config) { c.Rate, c.FaultsJSON = 5, "{}" }},
		{Name: "fault", Env: map[string]string{"EXPORTER_FAULT": "buffer-exports"},
			Want: func(c *config) {
				d := contract.Defaults() // the exporter's defaults, as the exporter has them
				*c = config{Listen: "127.0.0.1:8080", Rate: d.Rate, Burst: d.Burst, MaxCSV: d.MaxCSVExports, MaxPDF: d.MaxPDFExports,
					PDFMaxRows: d.PDFMaxRows, WriteTimeout: d.WriteTimeout, ShutdownGrace: d.ShutdownGrace, Faults: []string{"buffer-exports"}}
			}},
		{Name: "malformed", Env: map[string]string{"EXPORTER_MAX_CSV_EXPORTS": "many"}, WantErr: `environment variable "EXPORTER_MAX_CSV_EXPORTS"`},
		{Name: "malformed faults", Env: map[string]string{"EXPORTER_FAULTS_JSON": `{"Nope":1}`}, WantErr: "--faults-json"},
	})
}

// TestRun serves the fake as the process target would start it, and stops it as on SIGTERM.
func TestRun(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.txt")
	if err := os.WriteFile(tokens, []byte("tok read,write\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := &testkit.Buffer{} // stdout of a run in another goroutine
	srv := testkit.Serve(t, func(ctx context.Context) error {
		return run(ctx, []string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--tokens-file", tokens,
			"--fault=buffer-exports"}, out, io.Discard)
	})
	var m []string
	gomega.NewWithT(t).Eventually(func() []string {
		m = regexp.MustCompile(`listening on (\S+)`).FindStringSubmatch(out.String())
		return m
	}).WithTimeout(10*time.Second).WithPolling(10*time.Millisecond).ShouldNot(gomega.BeNil(), "a listening line")
	base := "http://" + m[1]

	do := func(method, path, token, body string) (int, string) {
		t.Helper()
		return testkit.Do(t, method, base+path, "", token, body)
	}
	for _, tt := range []struct {
		method, path, token, body string
		code                      int
		contains                  string
	}{
		{method: "GET", path: "/readyz", code: 200},
		{method: "GET", path: "/healthz", code: 200},
		{method: "GET", path: "/metrics", code: 200, contains: "process_resident_memory_bytes"},
		{method: "PUT", path: "/v1/datasets/d", token: "wrong", body: `{"columns":[{"name":"n","type":"string"}]}`, code: 401},
		{method: "PUT", path: "/v1/datasets/d", token: "tok", body: `{"columns":[{"name":"n","type":"string"}]}`, code: 201},
		{method: "POST", path: "/v1/datasets/d/records", token: "tok", body: `{"id":1,"n":"a,b"}`, code: 200},
		{method: "GET", path: "/v1/datasets/d/export?format=csv", token: "tok", code: 200, contains: "id,n\r\n1,\"a,b\"\r\n"},
	} {
		if code, body := do(tt.method, tt.path, tt.token, tt.body); code != tt.code || !strings.Contains(body, tt.contains) {
			t.Errorf("%s %s: %d %q, want %d containing %q", tt.method, tt.path, code, body, tt.code, tt.contains)
		}
	}

	srv.Shutdown(10 * time.Second)
	if !strings.Contains(out.String(), "stopped") {
		t.Errorf("output %q lacks the stop line", out.String())
	}
}
