package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/exporter"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

var allFlags = []string{"listen", "data-dir", "tokens-file", "insecure-no-auth", "rate", "burst", "max-csv-exports",
	"max-pdf-exports", "pdf-max-rows", "max-body-bytes", "write-timeout", "shutdown-grace", "log-level"}

// setEnv gives the test exactly the EXPORTER_* variables of env (testkit.SetEnv).
func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	testkit.SetEnv(t, "EXPORTER", env)
}

func TestRunHelp(t *testing.T) {
	setEnv(t, nil)
	for _, arg := range []string{"--help", "-h"} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{arg}, &stdout, &stderr)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("run(%s) = %v, want flag.ErrHelp", arg, err)
		}
		usage := stderr.String()
		if !strings.HasPrefix(usage, "Usage: exporter") {
			t.Errorf("usage starts %q", usage[:min(40, len(usage))])
		}
		for _, f := range allFlags {
			if !strings.Contains(usage, "-"+f+" ") && !strings.Contains(usage, "-"+f+"\n") {
				t.Errorf("usage does not mention --%s:\n%s", f, usage)
			}
			env := "EXPORTER_" + strings.ToUpper(strings.ReplaceAll(f, "-", "_"))
			if !strings.Contains(usage, env) {
				t.Errorf("usage does not mention %s", env)
			}
		}
		if stdout.Len() != 0 {
			t.Errorf("help wrote to stdout: %q", stdout.String())
		}
	}
}

// TestRunHelpShowsEnvDefaults: a variable supplies the default --help shows; a malformed one does not
// stand in the way of --help.
func TestRunHelpShowsEnvDefaults(t *testing.T) {
	setEnv(t, map[string]string{"EXPORTER_RATE": "5", "EXPORTER_LOG_LEVEL": "debug"})
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run(--help) = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"(env EXPORTER_RATE) (default 5)\n", "(env EXPORTER_LOG_LEVEL) (default DEBUG)\n", "(env EXPORTER_BURST) (default 100)\n"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, stderr.String())
		}
	}
	t.Setenv("EXPORTER_BURST", "many")
	if err := run(context.Background(), []string{"--help"}, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("run(--help) with EXPORTER_BURST=many = %v, want flag.ErrHelp", err)
	}
}

func TestRunRefuses(t *testing.T) {
	// Cases of refused configuration (testkit's type; Want is unused, every case wants an error).
	tests := []testkit.EnvFlagCase[exporter.Config]{
		{Name: "unknown flag", Args: []string{"--nope"}, WantErr: "flag provided but not defined: -nope"},
		{Name: "bad value", Args: []string{"--rate", "fast"}, WantErr: `invalid value "fast" for flag -rate`},
		{Name: "bad duration", Args: []string{"--write-timeout", "10"}, WantErr: "-write-timeout"},
		{Name: "positional argument", Args: []string{"serve"}, WantErr: "unexpected arguments"},
		{Name: "non-loopback without tokens", Args: []string{"--listen", "0.0.0.0:0", "--data-dir", "DIR"},
			WantErr: "refusing to serve without auth on non-loopback address 0.0.0.0:0: give --tokens-file, or --insecure-no-auth to accept that"},
		{Name: "non-loopback from env", Args: []string{"--data-dir", "DIR"}, Env: map[string]string{"EXPORTER_LISTEN": ":0"},
			WantErr: "refusing to serve without auth"},
		{Name: "malformed env", Args: []string{"--data-dir", "DIR"}, Env: map[string]string{"EXPORTER_BURST": "many"},
			WantErr: `environment variable "EXPORTER_BURST"`},
		{Name: "invalid config", Args: []string{"--data-dir", "DIR", "--max-pdf-exports", "0"}, WantErr: "--max-pdf-exports must be >= 1"},
		{Name: "missing tokens file", Args: []string{"--data-dir", "DIR", "--tokens-file", "/nonexistent/tokens"}, WantErr: "tokens file"},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			dir := t.TempDir()
			args := make([]string, len(tt.Args))
			for i, a := range tt.Args {
				args[i] = strings.ReplaceAll(a, "DIR", dir)
			}
			setEnv(t, tt.Env)
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := run(ctx, args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.WantErr) {
				t.Fatalf("run(%q) = %v, want an error with %q", args, err, tt.WantErr)
			}
			if errors.Is(err, flag.ErrHelp) {
				t.Errorf("a refusal reads as a help request")
			}
		})
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	setEnv(t, nil)
	dir := t.TempDir()
	var stdout, stderr testkit.Buffer // written by the run in another goroutine
	srv := testkit.Serve(t, func(ctx context.Context) error {
		return run(ctx, []string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "debug"}, &stdout, &stderr)
	})
	// The store file appears once the exporter is up.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "exporter.db")); err == nil {
			break
		}
		if exited, err := srv.Exited(); exited {
			t.Fatalf("run returned early: %v; stderr %s", err, stderr.String())
		}
		if time.Now().After(deadline) {
			t.Fatal("the exporter did not open its store")
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.Shutdown(10 * time.Second)
	// Logs are JSON lines on stdout.
	for _, msg := range []string{`"msg":"listening"`, `"msg":"shutting down"`, `"msg":"stopped"`} {
		if !strings.Contains(stdout.String(), msg) {
			t.Errorf("log lacks %s:\n%s", msg, stdout.String())
		}
	}
}
