package exporter

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadTokens(t *testing.T) {
	tests := []struct {
		file    string
		wantErr string           // a substring of the error; empty: the file loads
		scopes  map[string]scope // token → scopes it must carry
		refused []string         // tokens that must not be found
	}{
		{file: "good.txt",
			scopes: map[string]scope{
				"reader-token-1": scopeRead,
				"writer-token-1": scopeWrite,
				"admin-token-01": scopeRead | scopeWrite,
				"both-order-01":  scopeRead | scopeWrite,
			},
			refused: []string{"", "read", "#", "reader-token-", "reader-token-1 ", "READER-TOKEN-1", "the", "comment"}},
		{file: "eight-chars.txt", scopes: map[string]scope{"12345678": scopeRead}},
		{file: "empty.txt", wantErr: "no tokens"},
		{file: "bad-scope.txt", wantErr: `line 2: scope "admin" is not read or write`},
		{file: "scope-case.txt", wantErr: `line 1: scope "READ"`},
		{file: "empty-scope.txt", wantErr: `line 1: scope ""`},
		{file: "short-token.txt", wantErr: "line 1: token shorter than 8 characters"},
		{file: "missing-scope.txt", wantErr: "line 1: want `<token> <scopes>`"},
		{file: "extra-field.txt", wantErr: "line 1: want `<token> <scopes>`"},
		{file: "does-not-exist.txt", wantErr: "tokens file"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "tokens", tt.file)
			tok, err := loadTokens(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("loadTokens = %v, want an error with %q", err, tt.wantErr)
				}
				if tt.file != "does-not-exist.txt" && !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name the file", err)
				}
				// NewServer refuses to start on it.
				cfg := testConfig(t.TempDir())
				cfg.TokensFile = path
				store := openTestStore(t, cfg)
				if _, err := NewServer(cfg, store, newCheckedLogger(t)); err == nil {
					t.Errorf("NewServer started with tokens file %s", tt.file)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for token, want := range tt.scopes {
				if got, ok := tok.lookup(token); !ok || got != want {
					t.Errorf("lookup(%q) = %v, %v; want %v", token, got, ok, want)
				}
			}
			for _, token := range tt.refused {
				if got, ok := tok.lookup(token); ok || got != 0 {
					t.Errorf("lookup(%q) = %v, %v; want not found", token, got, ok)
				}
			}
		})
	}
}
