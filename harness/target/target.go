package target

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Kind names how the exporter under test runs.
type Kind string

// The target kinds. KindAuto lets Start choose: container if an engine answers, else process.
const (
	KindAuto      Kind = ""
	KindContainer Kind = "container"
	KindProcess   Kind = "process"
	KindURL       Kind = "url"
)

var (
	// ErrNoEngine means no container engine answered: no Docker socket, a socket nobody
	// listens on, or an engine that did not reply in time.
	ErrNoEngine = errors.New("no container engine")

	// ErrTargetUnavailable means the required target kind cannot be had on this machine.
	// A run that gets it did not run; it must not be reported as passed.
	ErrTargetUnavailable = errors.New("target unavailable")
)

// Target is one running exporter under test: what every kind has. What only some kinds can show
// (memory, logs, restarts) are the optional interfaces Sampler, Logger and Restarter, which a
// caller asks for with a type assertion.
type Target interface {
	// Kind tells which kind of target runs.
	Kind() Kind
	// BaseURL is the exporter's root URL without a trailing slash. For container and process
	// targets it is always http://127.0.0.1:PORT.
	BaseURL() string
	// Token is a bearer token with the read and write scopes. Container and process targets
	// generate a fresh one per start.
	Token() string
	// Info holds the facts about this target that belong in the evidence (for a container, the
	// image and its content digest).
	Info() Info
	// Stop shuts the exporter down gracefully (SIGTERM, then wait for it to exit) and
	// releases everything Start created. A non-zero exit code is an error. Calling Stop
	// again returns the first result.
	Stop(ctx context.Context) error
}

// endpoint is where a started target answers and the token it takes: the part of Target every
// kind implements alike, embedded in each so the kinds differ only where they really do.
type endpoint struct {
	info  Info
	token string
}

func (e *endpoint) BaseURL() string { return e.info.BaseURL }
func (e *endpoint) Token() string   { return e.token }
func (e *endpoint) Info() Info      { return e.info }

// stopOnce keeps Stop's promise that calling it again returns the first result: the first call
// stops the target, every later one returns that call's error.
type stopOnce struct {
	once sync.Once
	err  error
}

func (s *stopOnce) do(stop func() error) error {
	s.once.Do(func() { s.err = stop() })
	return s.err
}

// starters maps each target kind to what starts it, once the kind was chosen: adding a kind takes
// its own file and one line here.
var starters = map[Kind]func(context.Context, Options, selection) (Target, error){
	KindContainer: startContainer,
	KindProcess:   startProcess,
	KindURL:       startURL,
	KindImage:     startImage,
	KindCluster:   startCluster,
}

// Info is what a run records about its target.
type Info struct {
	Kind    Kind   `json:"kind"`
	BaseURL string `json:"base_url"`
	// Note says why this kind was chosen (auto selection, fallback, request).
	Note string `json:"note"`
	// Engine describes the container engine that answered, if one was probed.
	Engine *EngineInfo `json:"engine,omitempty"`
	// BinaryPath is the exporter binary used (container and process).
	BinaryPath string `json:"binary_path,omitempty"`
	// Image and ImageID name the container image; ImageID is its content digest.
	Image   string `json:"image,omitempty"`
	ImageID string `json:"image_id,omitempty"`
	// BinaryBuild, ImageBuild and Startup time the start phases: building the binary (zero
	// when a prebuilt one was given), building the image, and from then until /readyz
	// answered 200.
	BinaryBuild time.Duration `json:"binary_build_ns"`
	ImageBuild  time.Duration `json:"image_build_ns"`
	Startup     time.Duration `json:"startup_ns"`
	// MemoryMethod says how memory is measured for this kind.
	MemoryMethod string `json:"memory_method"`
	// Replicas, Proxy and Database describe a cluster: its exporters (each with its own URL,
	// bypassing the proxy), the front proxy and its version ("HAProxy 2.6.12"), and the
	// database server ("PostgreSQL 15.18").
	Replicas []Replica `json:"replicas,omitempty"`
	Proxy    string    `json:"proxy,omitempty"`
	Database string    `json:"database,omitempty"`
}

// RunState is whether the exporter kept running.
type RunState struct {
	// RestartCount is the engine's restart count (container; for a cluster the sum over its
	// replicas, less ExpectedRestarts) and is always 0 for a process.
	RestartCount int `json:"restart_count"`
	// Exited is true when the exporter exited without Stop asking it to.
	Exited bool `json:"exited"`
	// ExitCode is the exit code once the exporter exited, for any reason.
	ExitCode int `json:"exit_code"`
	// ExpectedRestarts are restarts the harness caused itself (a cluster's KillReplica): not
	// counted in RestartCount.
	ExpectedRestarts int `json:"expected_restarts,omitempty"`
	// OOMKilled is the engine's out-of-memory flag (container only).
	OOMKilled bool `json:"oom_killed"`
	// Status is a short human description ("running", "exited (2)", …).
	Status string `json:"status"`
}

// Options selects and configures the target. The zero value picks container or process
// automatically and builds the exporter from the repository that holds the working directory.
type Options struct {
	// Kind asks for a target kind; empty chooses automatically (a URL given → url; an
	// engine answering → container; else process).
	Kind Kind
	// RequireKind makes Kind mandatory: if it cannot be had Start fails with an error
	// wrapping ErrTargetUnavailable. Without it, a container request falls back to a process
	// and the fallback is written to Info.Note.
	RequireKind bool

	// RepoRoot is the module root holding exporter/ (its cmd and Dockerfile). Empty: the
	// nearest directory upward from the working directory that has a go.mod.
	RepoRoot string
	// BinaryPath is a prebuilt static exporter binary. Empty: BuildBinary builds one.
	BinaryPath string
	// WorkDir holds the files Start writes (binary, image context, tokens, data). Empty: a
	// temporary directory removed by Stop.
	WorkDir string

	// Args are extra exporter flags, e.g. "--rate=5". The target owns --listen,
	// --data-dir, --tokens-file and --insecure-no-auth.
	Args []string
	// Env adds environment variables for the exporter: a profile's service env (the container
	// contract, e.g. EXPORTER_RATE=100). A value may name {listen}, {data_dir} and {tokens_file},
	// which the target fills in with where the exporter listens, its data directory and its tokens
	// file. EXPORTER_* variables of the calling process are not inherited, so a run is defined by
	// Options alone.
	Env map[string]string
	// DataDir is the store directory of a process target (default: under WorkDir). A
	// container keeps its store in its /data volume, removed with the container.
	DataDir string

	// Cluster configures a cluster target.
	Cluster ClusterOptions

	// Image is the local image an image target runs: a reference or an image ID. It is never
	// pulled.
	Image string

	// URL and Token address a running exporter (url target).
	URL   string
	Token string

	// Readiness is the path that answers 200 once the exporter is ready: the profile's
	// service.readiness (default /readyz, the v1 profile's). Containers and images are waited on
	// there.
	Readiness string
	// StartTimeout bounds the wait for /readyz after the exporter starts. Default 60s.
	StartTimeout time.Duration
	// Log receives progress: image build output and testcontainers' lifecycle lines.
	// Nil discards it.
	Log io.Writer

	// probe replaces ProbeEngine in tests.
	probe func(context.Context) (EngineInfo, error)
}

// readiness is o.Readiness, or /readyz.
func (o Options) readiness() string {
	if o.Readiness == "" {
		return "/readyz"
	}
	return o.Readiness
}

// reservedFlags are the flags the target sets itself; a caller setting them would contradict it.
var reservedFlags = []string{"listen", "data-dir", "tokens-file", "insecure-no-auth"}

// envFor is o.Env with {listen}, {data_dir} and {tokens_file} filled in: the exporter's
// environment on a target where it listens at listen, keeps its data in dataDir and reads its
// tokens from tokens.
func (o Options) envFor(listen, dataDir, tokens string) map[string]string {
	if o.Env == nil {
		return nil
	}
	r := strings.NewReplacer("{listen}", listen, "{data_dir}", dataDir, "{tokens_file}", tokens)
	env := make(map[string]string, len(o.Env))
	for k, v := range o.Env {
		env[k] = r.Replace(v)
	}
	return env
}

// Validate reports the first inconsistency in o.
func (o Options) Validate() error {
	if _, ok := starters[o.Kind]; !ok && o.Kind != KindAuto {
		var known []string
		for k := range starters {
			known = append(known, string(k))
		}
		slices.Sort(known)
		return fmt.Errorf("unknown target kind %q (want %s)", o.Kind, strings.Join(known, ", "))
	}
	if o.RequireKind && o.Kind == KindAuto {
		return errors.New("RequireKind needs a Kind")
	}
	if o.Kind == KindURL && o.URL == "" {
		return errors.New("url target needs a URL")
	}
	if o.URL != "" {
		if o.Kind != KindAuto && o.Kind != KindURL {
			return fmt.Errorf("a URL is given but the target kind is %s", o.Kind)
		}
		u, err := url.Parse(o.URL)
		if err != nil {
			return fmt.Errorf("target URL: %w", err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("target URL %q: want http(s)://host[:port]", o.URL)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("target URL %q: no query or fragment", o.URL)
		}
	}
	for _, a := range o.Args {
		name, ok := flagName(a)
		if !ok {
			continue
		}
		for _, r := range reservedFlags {
			if name == r {
				return fmt.Errorf("flag --%s is set by the target, not by Args", r)
			}
		}
	}
	if o.StartTimeout < 0 {
		return fmt.Errorf("negative start timeout %v", o.StartTimeout)
	}
	return nil
}

// flagName returns the name of a flag argument such as "--rate=5" or "-rate".
func flagName(arg string) (string, bool) {
	if !strings.HasPrefix(arg, "-") || arg == "-" || arg == "--" {
		return "", false
	}
	name := strings.TrimLeft(arg, "-")
	name, _, _ = strings.Cut(name, "=")
	return name, name != ""
}

func (o Options) startTimeout() time.Duration {
	if o.StartTimeout == 0 {
		return 60 * time.Second
	}
	return o.StartTimeout
}

// Start selects the target kind, starts the exporter and waits until /readyz answers 200.
// The caller must Stop the returned Target; on error nothing is left running.
func Start(ctx context.Context, o Options) (Target, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("target options: %w", err)
	}
	probe := o.probe
	if probe == nil {
		probe = ProbeEngine
	}
	sel, err := choose(ctx, o, probe)
	if err != nil {
		return nil, err
	}
	return starters[sel.kind](ctx, o, sel)
}

// selection is the outcome of choose: the kind to start and why.
type selection struct {
	kind   Kind
	note   string
	engine *EngineInfo
}

// choose decides the target kind. It probes the engine only when a container is possible: asked
// for, or chosen automatically. Any other kind asked for is started as it is.
func choose(ctx context.Context, o Options, probe func(context.Context) (EngineInfo, error)) (selection, error) {
	switch {
	case o.Kind == KindURL || (o.Kind == KindAuto && o.URL != ""):
		return selection{kind: KindURL, note: "url target: an exporter already running at " + o.URL}, nil
	case o.Kind != KindAuto && o.Kind != KindContainer:
		return selection{kind: o.Kind, note: string(o.Kind) + " target requested"}, nil
	}

	// The kind is KindContainer or KindAuto here: a container where an engine answers.
	asked := o.Kind == KindContainer
	info, err := probe(ctx)
	if err == nil {
		why := "auto: a container engine answered"
		if asked {
			why = "container target requested"
		}
		return selection{kind: KindContainer, note: fmt.Sprintf("%s (%s)", why, info), engine: &info}, nil
	}
	if o.RequireKind {
		return selection{}, fmt.Errorf("%w: container target required: %w", ErrTargetUnavailable, err)
	}
	why := "auto"
	if asked {
		why = "container target requested but not required"
	}
	return selection{kind: KindProcess, note: fmt.Sprintf("%s: no container engine (%v); running the exporter as a process", why, err)}, nil
}

// newToken returns a random bearer token.
func newToken() (string, error) {
	s, err := randomHex(24)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return "xt-" + s, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// tokensFile is the exporter's tokens file granting token both scopes.
func tokensFile(token string) []byte {
	return []byte("# written by harness/target for one run\n" + token + " read,write\n")
}
