package target

import (
	"context"
	"errors"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/testcontainers/testcontainers-go"

	"github.com/exportatscale/exportatscale/harness/api"
)

// KindImage is any image in the local engine that implements an API and the container contract
// its profile declares (service.env; the v1 profile's by default), judged as our own image is.
const KindImage Kind = "image"

// Where an image's exporter listens, keeps its data and finds its tokens file: what the target
// fills in for {listen}, {data_dir} and {tokens_file} in the profile's service env.
const (
	contractListen  = "0.0.0.0:8080"
	contractDataDir = "/data"
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
	if len(o.Args) > 0 {
		return nil, fmt.Errorf("image target: arguments %q: an image is configured by its environment only (a profile's service env, Options.Env)", o.Args)
	}
	if o.Env == nil {
		p := api.V1Profile()
		o.Env = p.ServiceWith(p.Limits()).Env
	}
	env := o.envFor(contractListen, contractDataDir, containerTokens)
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
