package target

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		wantErr string // substring; empty means valid
	}{
		{name: "zero value is auto", o: Options{}},
		{name: "container required", o: Options{Kind: KindContainer, RequireKind: true}},
		{name: "process with flags", o: Options{Kind: KindProcess, Args: []string{"--rate=5", "--burst", "10", "-max-pdf-exports=1"}}},
		{name: "url", o: Options{Kind: KindURL, URL: "http://127.0.0.1:8080/", Token: "t"}},
		{name: "url given, auto kind", o: Options{URL: "https://exporter.example:8443"}},
		{name: "unknown kind", o: Options{Kind: "vm"}, wantErr: "unknown target kind"},
		{name: "require without kind", o: Options{RequireKind: true}, wantErr: "RequireKind needs a Kind"},
		{name: "url kind without URL", o: Options{Kind: KindURL}, wantErr: "needs a URL"},
		{name: "URL with process kind", o: Options{Kind: KindProcess, URL: "http://127.0.0.1:1"}, wantErr: "kind is process"},
		{name: "URL without scheme", o: Options{URL: "127.0.0.1:8080"}, wantErr: "target URL"},
		{name: "URL with other scheme", o: Options{URL: "ftp://127.0.0.1:8080"}, wantErr: "want http(s)"},
		{name: "URL with query", o: Options{URL: "http://127.0.0.1:8080/?x=1"}, wantErr: "no query"},
		{name: "listen flag is the target's", o: Options{Args: []string{"--listen=0.0.0.0:9"}}, wantErr: "--listen is set by the target"},
		{name: "tokens flag single dash", o: Options{Args: []string{"-tokens-file", "x"}}, wantErr: "--tokens-file"},
		{name: "no auth is the target's", o: Options{Args: []string{"--insecure-no-auth"}}, wantErr: "--insecure-no-auth"},
		{name: "flag values are not flags", o: Options{Args: []string{"--log-level", "listen"}}},
		{name: "other env", o: Options{Env: map[string]string{"EXPORTER_RATE": "5"}}},
		{name: "negative timeout", o: Options{StartTimeout: -1}, wantErr: "negative start timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("Validate() = nil, want error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestChoose(t *testing.T) {
	engine := EngineInfo{ServerVersion: "20.10.24", APIVersion: "1.41", OS: "linux", Arch: "amd64"}
	answers := func(context.Context) (EngineInfo, error) { return engine, nil }
	absent := func(context.Context) (EngineInfo, error) {
		return EngineInfo{}, errors.Join(ErrNoEngine, errors.New("socket not found"))
	}
	mustNotProbe := func(t *testing.T) func(context.Context) (EngineInfo, error) {
		return func(context.Context) (EngineInfo, error) {
			t.Error("engine probed although no container is possible")
			return engine, nil
		}
	}

	tests := []struct {
		name      string
		o         Options
		probe     func(*testing.T) func(context.Context) (EngineInfo, error)
		wantKind  Kind
		wantNote  string // substring
		wantErrIs error
	}{
		{
			name: "auto with engine", probe: func(*testing.T) func(context.Context) (EngineInfo, error) { return answers },
			wantKind: KindContainer, wantNote: "auto: a container engine answered (Docker Engine 20.10.24",
		},
		{
			name: "auto without engine", probe: func(*testing.T) func(context.Context) (EngineInfo, error) { return absent },
			wantKind: KindProcess, wantNote: "auto: no container engine (no container engine",
		},
		{
			name: "container preferred, no engine, falls back and says so",
			o:    Options{Kind: KindContainer}, probe: func(*testing.T) func(context.Context) (EngineInfo, error) { return absent },
			wantKind: KindProcess, wantNote: "container target requested but not required: no container engine",
		},
		{
			name: "container required, no engine",
			o:    Options{Kind: KindContainer, RequireKind: true}, probe: func(*testing.T) func(context.Context) (EngineInfo, error) { return absent },
			wantErrIs: ErrTargetUnavailable,
		},
		{
			name: "container required, engine",
			o:    Options{Kind: KindContainer, RequireKind: true}, probe: func(*testing.T) func(context.Context) (EngineInfo, error) { return answers },
			wantKind: KindContainer, wantNote: "container target requested",
		},
		{
			name: "process never probes", o: Options{Kind: KindProcess, RequireKind: true}, probe: mustNotProbe,
			wantKind: KindProcess, wantNote: "process target requested",
		},
		{
			name: "url given in auto mode", o: Options{URL: "http://127.0.0.1:9"}, probe: mustNotProbe,
			wantKind: KindURL, wantNote: "http://127.0.0.1:9",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := choose(context.Background(), tt.o, tt.probe(t))
			if tt.wantErrIs != nil {
				if !errors.Is(err, tt.wantErrIs) {
					t.Fatalf("choose() error = %v, want %v", err, tt.wantErrIs)
				}
				if !errors.Is(err, ErrNoEngine) {
					t.Errorf("choose() error = %v, want it to keep the probe's cause", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("choose() error = %v", err)
			}
			if sel.kind != tt.wantKind {
				t.Errorf("kind = %q, want %q", sel.kind, tt.wantKind)
			}
			if !strings.Contains(sel.note, tt.wantNote) {
				t.Errorf("note = %q, want it to contain %q", sel.note, tt.wantNote)
			}
			if (sel.kind == KindContainer) != (sel.engine != nil) {
				t.Errorf("engine info = %v for kind %s", sel.engine, sel.kind)
			}
		})
	}
}

// Start must refuse a required container it cannot have, before building anything.
func TestStartRequiredContainerUnavailable(t *testing.T) {
	o := Options{
		Kind: KindContainer, RequireKind: true,
		BinaryPath: "/nonexistent/exporter",
		probe: func(context.Context) (EngineInfo, error) {
			return EngineInfo{}, ErrNoEngine
		},
	}
	tg, err := Start(context.Background(), o)
	if !errors.Is(err, ErrTargetUnavailable) {
		t.Fatalf("Start() = %v, %v; want ErrTargetUnavailable", tg, err)
	}
}

func TestTokensFile(t *testing.T) {
	tok, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := newToken()
	if tok == other || len(tok) < 32 {
		t.Fatalf("tokens %q, %q: want long and distinct", tok, other)
	}
	var grants []string
	for line := range strings.Lines(string(tokensFile(tok))) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			grants = append(grants, line)
		}
	}
	if want := tok + " read,write"; len(grants) != 1 || grants[0] != want {
		t.Fatalf("tokens file grants %q, want [%q]", grants, want)
	}
}

// The profile's service env names where the exporter listens, its data and tokens: each target
// fills them in with its own, and leaves the rest as given.
func TestEnvFor(t *testing.T) {
	o := Options{Env: map[string]string{"EXPORTER_LISTEN": "{listen}", "EXPORTER_DATA_DIR": "{data_dir}/store",
		"EXPORTER_TOKENS_FILE": "{tokens_file}", "EXPORTER_RATE": "7"}}
	got := o.envFor("127.0.0.1:9", "/w/data", "/w/tokens.txt")
	want := map[string]string{"EXPORTER_LISTEN": "127.0.0.1:9", "EXPORTER_DATA_DIR": "/w/data/store",
		"EXPORTER_TOKENS_FILE": "/w/tokens.txt", "EXPORTER_RATE": "7"}
	if !maps.Equal(got, want) || o.Env["EXPORTER_LISTEN"] != "{listen}" {
		t.Errorf("envFor = %v, want %v (and Options.Env unchanged: %v)", got, want, o.Env)
	}
	if (Options{}).envFor("a", "b", "c") != nil {
		t.Error("envFor of no Env is not nil")
	}
}

func TestProcessEnv(t *testing.T) {
	got := processEnv(
		[]string{"PATH=/bin", "EXPORTER_RATE=1", "HOME=/root", "EXPORTER_LISTEN=0.0.0.0:1"},
		map[string]string{"EXPORTER_RATE": "7", "EXPORTER_BURST": "3"},
	)
	want := []string{"PATH=/bin", "HOME=/root", "EXPORTER_BURST=3", "EXPORTER_RATE=7"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("processEnv() = %q, want %q", got, want)
	}
}
