package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/harness/internal/fake"
	"github.com/exportatscale/exportatscale/harness/seed"
)

func TestRun(t *testing.T) {
	srv := fake.Start(t, fake.Config{Tokens: []string{"w"}})
	path := filepath.Join(t.TempDir(), "manifest.json")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--url", srv.URL, "--token", "w", "--rows", "250", "--mode", "single",
		"--seed", "5", "--concurrency", "4", "--manifest", path}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m seed.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Rows != 250 || m.Seed != 5 || m.Mode != seed.ModeSingle || m.Dataset != "trades" || m.FirstID != 1 || m.LastID != 250 || len(m.SHA256) != 64 {
		t.Errorf("manifest %+v", m)
	}
	if !strings.Contains(stderr.String(), "seeded 250/250 (100.0%)") || !strings.Contains(stdout.String(), "manifest "+path) {
		t.Errorf("stdout %q\nstderr %q", stdout.String(), stderr.String())
	}

	// The same seed again in batch mode sends the same records: same digest.
	stdout.Reset()
	if err := run(context.Background(), []string{"--url", srv.URL, "--token", "w", "--rows", "250", "--seed", "5"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var again seed.Manifest
	if err := json.Unmarshal(stdout.Bytes(), &again); err != nil {
		t.Fatalf("stdout manifest: %v\n%s", err, stdout.String())
	}
	if again.SHA256 != m.SHA256 || again.Mode != seed.ModeBatch {
		t.Errorf("batch manifest %+v", again)
	}
}

func TestRunErrors(t *testing.T) {
	srv := fake.Start(t, fake.Config{Tokens: []string{"w"}})
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "bulk"}, "--mode must be single or batch"},
		{[]string{"--rows", "-1"}, "--rows must not be negative"},
		{[]string{"--nope"}, "flag provided but not defined"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"--url", srv.URL, "--token", "bad"}, "HTTP 401 unauthorized"},
		{[]string{"--url", srv.URL, "--token", "w", "--dataset", "Bad Name"}, "HTTP 400 invalid_name"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tt.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error()+stderr.String(), tt.want) {
			t.Errorf("%q: err %v, stderr %q; want %q", tt.args, err, stderr.String(), tt.want)
		}
	}
}
