package target

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/testcontainers/testcontainers-go"
)

// KindImage is any image in the local engine that implements the v1 API and the container
// contract, judged as our own image is.
const KindImage Kind = "image"

// The container contract: an image is configured by environment only. It reads
// EXPORTER_LISTEN, EXPORTER_TOKENS_FILE and EXPORTER_DATA_DIR, which the target sets to these,
// and one EXPORTER_* variable per exporter flag the caller gives (EXPORTER_RATE,
// EXPORTER_MAX_CSV_EXPORTS, EXPORTER_WRITE_TIMEOUT, …); it listens on containerPort and
// serves /readyz.
const (
	contractListen  = "0.0.0.0:8080"
	contractDataDir = "/data"
	contractPrefix  = "EXPORTER"
)

// startImage runs o.Image, which must be in the local engine already: it is never pulled, since
// the engines we run on have no registry. The container is observed like our own (memory from
// container stats, logs, restarts from inspect) and left to the image's own entrypoint and
// user. Stop removes the container and its volumes, never the image. An image target has no
// fallback, so a missing engine is always ErrTargetUnavailable.
func startImage(ctx context.Context, o Options, sel selection) (_ Target, err error) {
	if o.Image == "" {
		return nil, errors.New("image target: no image given")
	}
	env, err := contractEnv(o.Args, o.Env)
	if err != nil {
		return nil, fmt.Errorf("image target: %w", err)
	}
	probe := o.probe
	if probe == nil {
		probe = ProbeEngine
	}
	engine, err := probe(ctx)
	if err != nil {
		return nil, fmt.Errorf("image target: %w: %w", ErrTargetUnavailable, err)
	}
	provider, err := newProvider()
	if err != nil {
		return nil, fmt.Errorf("image target: %w: %w", ErrTargetUnavailable, err)
	}
	defer func() {
		if err != nil {
			provider.Close()
		}
	}()
	// Run the image by its ID, so the image judged is the one inspected here even if the
	// reference is moved meanwhile, and so testcontainers finds it locally and pulls nothing.
	img, err := provider.Client().ImageInspect(ctx, o.Image)
	if cerrdefs.IsNotFound(err) {
		return nil, fmt.Errorf("image target: no image %s in the local engine (images are never pulled): %w", o.Image, err)
	}
	if err != nil {
		return nil, fmt.Errorf("image target: inspect image %s: %w", o.Image, err)
	}

	info := Info{
		Kind:   KindImage,
		Note:   fmt.Sprintf("%s: %s (%s)", sel.note, o.Image, engine),
		Engine: &engine,
		Image:  o.Image,
	}
	req := testcontainers.ContainerRequest{Image: img.ID, Env: env}
	t0 := time.Now()
	c, ready, err := launch(ctx, o, provider, workspace{}, info, req, func() string { return "" })
	if err != nil {
		return nil, fmt.Errorf("image target %s: %w", o.Image, err)
	}
	c.info.Startup = ready.Sub(t0)
	return c, nil
}

// contractEnv is the environment of an image target: env, then one variable per exporter flag
// in args, named as ff names a flag's variable (--max-csv-exports=10 is
// EXPORTER_MAX_CSV_EXPORTS=10, a bare --flag is "true", a later flag wins), then the contract's
// listen address, tokens file and data directory. An image takes no arguments, so a flag's
// value must follow "=" in the same argument.
func contractEnv(args []string, env map[string]string) (map[string]string, error) {
	out := maps.Clone(env)
	if out == nil {
		out = map[string]string{}
	}
	for _, a := range args {
		name, ok := flagName(a)
		if !ok {
			return nil, fmt.Errorf("argument %q: an image is configured by its environment only, so each argument must be --flag or --flag=value", a)
		}
		value := "true"
		if _, v, ok := strings.Cut(a, "="); ok {
			value = v
		}
		out[contractVar(name)] = value
	}
	out[contractVar("listen")] = contractListen
	out[contractVar("tokens-file")] = containerTokens
	out[contractVar("data-dir")] = contractDataDir
	return out, nil
}

// contractVar is the variable the exporter reads for flag name: EXPORTER_, then the name in
// upper case with '-', '.' and '/' made '_' (as ff v3 derives it; exporter/config.go).
func contractVar(name string) string {
	return contractPrefix + "_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_", "/", "_").Replace(name))
}
