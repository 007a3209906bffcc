package target

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	// containerPort is where the image's exporter listens (EXPORTER_LISTEN=0.0.0.0:8080).
	containerPort = "8080/tcp"
	// containerTokens is where the tokens file is copied; root of a FROM scratch image.
	containerTokens = "/tokens.txt"
	// imageRepo names the images Start builds; each start tags its own.
	imageRepo = "exportatscale/exporter-under-test"
	// defaultStopGrace is how long docker stop waits after SIGTERM before SIGKILL when the
	// Stop context has no deadline. It exceeds the exporter's default --shutdown-grace.
	defaultStopGrace = 40 * time.Second
)

// containerTarget is an exporter in a container the engine runs: our own FROM scratch image
// (KindContainer), or any image of the container contract (KindImage).
type containerTarget struct {
	endpoint
	sampled
	ctr      *testcontainers.DockerContainer
	provider *testcontainers.DockerProvider // for engine calls testcontainers does not wrap
	ws       workspace
	// built is the image tag this start built, removed by Stop; empty for an image not ours.
	built string

	mu        sync.Mutex
	stopped   bool
	finalLogs []byte
	final     RunState

	stopOnce stopOnce
}

// tcLogger adapts an io.Writer to testcontainers' logger.
type tcLogger struct{ w io.Writer }

func (l tcLogger) Printf(format string, v ...any) {
	fmt.Fprintln(l.w, strings.TrimRight(fmt.Sprintf(format, v...), "\n"))
}

// logWriter is o.Log, or a writer that discards.
func (o Options) logWriter() io.Writer {
	if o.Log == nil {
		return io.Discard
	}
	return o.Log
}

// startContainer builds the exporter's FROM scratch image from the binary and runs it with launch.
// Each start builds and tags an image of its own, so that Stop can remove it without taking it
// from another start's container.
func startContainer(ctx context.Context, o Options, sel selection) (_ Target, err error) {
	prepareTestcontainers()
	ws, err := newWorkspace(o)
	if err != nil {
		return nil, fmt.Errorf("container target: %w", err)
	}
	defer ws.removeIfFailed(&err)
	bin, binaryBuild, buildDir, err := imageContext(ctx, o, ws)
	if err != nil {
		return nil, fmt.Errorf("container target: %w", err)
	}
	tag, err := randomHex(6) // one image per start
	if err != nil {
		return nil, err
	}
	provider, err := newProvider()
	if err != nil {
		if o.RequireKind {
			err = fmt.Errorf("%w: %w", ErrTargetUnavailable, err)
		}
		return nil, fmt.Errorf("container target: %w", err)
	}
	defer func() {
		if err != nil {
			provider.Close()
		}
	}()

	build := &imageBuild{tag: tag}
	info := Info{
		Kind:        KindContainer,
		Note:        sel.note,
		Engine:      sel.engine,
		BinaryPath:  bin,
		BinaryBuild: binaryBuild,
	}
	c, ready, err := launch(ctx, o, provider, ws, info, build.request(o, buildDir), build.built)
	if err != nil {
		return nil, fmt.Errorf("container target: %w", err)
	}
	if !build.start.IsZero() && !build.end.IsZero() {
		c.info.ImageBuild = build.end.Sub(build.start)
		c.info.Startup = ready.Sub(build.end)
	}
	return c, nil
}

// imageContext gets the exporter binary and lays out the image's build context in ws, the
// directory it returns: the binary and the repository's exporter/Dockerfile.
func imageContext(ctx context.Context, o Options, ws workspace) (bin string, binaryBuild time.Duration, dir string, err error) {
	bin, binaryBuild, err = ws.binary(ctx, o)
	if err != nil {
		return "", 0, "", err
	}
	root, err := o.repoRoot()
	if err != nil {
		return "", 0, "", err
	}
	dir = filepath.Join(ws.dir, "image")
	if err := prepareImageContext(root, bin, dir); err != nil {
		return "", 0, "", fmt.Errorf("image context: %w", err)
	}
	return bin, binaryBuild, dir, nil
}

// imageBuild is the image one container start builds. testcontainers builds it inside
// GenericContainer, so the request's lifecycle hooks are the one place to time the build.
type imageBuild struct {
	tag        string
	start, end time.Time
}

// request asks for the image to be built from the context in dir and for the exporter to run
// in it with o's Env and Args.
func (b *imageBuild) request(o Options, dir string) testcontainers.ContainerRequest {
	return testcontainers.ContainerRequest{
		FromDockerfile: testcontainers.FromDockerfile{
			Context:        dir,
			Dockerfile:     "Dockerfile",
			Repo:           imageRepo,
			Tag:            b.tag,
			BuildLogWriter: o.logWriter(),
			// Kept from testcontainers' Terminate, which would otherwise also add four
			// LABEL steps (3 s with the classic builder); Stop removes the image itself.
			KeepImage: true,
		},
		Env: o.envFor(contractListen, contractDataDir, containerTokens),
		Cmd: append([]string{"--tokens-file", containerTokens}, o.Args...),
		LifecycleHooks: []testcontainers.ContainerLifecycleHooks{{
			PreBuilds: []testcontainers.ContainerRequestHook{func(context.Context, testcontainers.ContainerRequest) error {
				b.start = time.Now()
				return nil
			}},
			PostBuilds: []testcontainers.ContainerRequestHook{func(context.Context, testcontainers.ContainerRequest) error {
				b.end = time.Now()
				return nil
			}},
		}},
	}
}

// built is the image's tag once the build ended, "" before: only a finished build left a tag
// for a failed launch or Stop to remove.
func (b *imageBuild) built() string {
	if b.end.IsZero() {
		return ""
	}
	return imageRepo + ":" + b.tag
}

// launch runs the exporter container req describes (its image or the build of one, its Env and
// Cmd) with what every exporter container gets: a fresh token in a tokens file at
// containerTokens, containerPort published on 127.0.0.1 only, and the wait for /readyz. built
// names the image tag this start built, "" until it built one: Stop removes it, and so does a
// failed launch. info is completed with the base URL, the image and its ID, and the memory
// method. On error no container and no built image is left; provider and ws stay the caller's.
func launch(ctx context.Context, o Options, provider *testcontainers.DockerProvider, ws workspace, info Info,
	req testcontainers.ContainerRequest, built func() string) (_ *containerTarget, ready time.Time, err error) {
	token, err := newToken()
	if err != nil {
		return nil, time.Time{}, err
	}
	withExporterContract(&req, token, o.startTimeout(), o.readiness())
	generic, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: req,
		Started:          true,
		Logger:           tcLogger{o.logWriter()},
	})
	ready = time.Now()
	defer func() {
		if err != nil {
			err = removeLaunched(ctx, provider, generic, built(), err)
		}
	}()
	if err != nil {
		if generic != nil {
			if logs, lerr := readLogs(ctx, generic); lerr == nil && len(logs) > 0 {
				err = fmt.Errorf("%w\nexporter output:\n%s", err, tail(logs, 40))
			}
		}
		return nil, ready, err
	}
	ctr := generic.(*testcontainers.DockerContainer)
	if info, err = withContainer(ctx, ctr, info); err != nil {
		return nil, ready, err
	}
	c := &containerTarget{
		endpoint: endpoint{info: info, token: token},
		ctr:      ctr,
		provider: provider,
		ws:       ws,
		built:    built(),
	}
	c.mem = newSampler(methodDocker, c.readMemory, 0)
	return c, ready, nil
}

// withExporterContract adds to req what every exporter container gets, whatever its image: the
// tokens file granting token, containerPort published on loopback only, and the wait for
// readiness (/readyz, which answers 200 only to that token, or the profile's path).
func withExporterContract(req *testcontainers.ContainerRequest, token string, startTimeout time.Duration, readiness string) {
	req.ExposedPorts = []string{containerPort}
	req.Files = append(req.Files, testcontainers.ContainerFile{
		Reader:            bytes.NewReader(tokensFile(token)),
		ContainerFilePath: containerTokens,
		FileMode:          0o444,
	})
	req.HostConfigModifier = func(hc *container.HostConfig) {
		// Publish on loopback only; the engine picks the host port.
		hc.PortBindings = network.PortMap{
			network.MustParsePort(containerPort): {{HostIP: netip.MustParseAddr("127.0.0.1")}},
		}
	}
	req.WaitingFor = wait.ForHTTP(readiness).
		WithPort(containerPort).
		WithHeaders(map[string]string{"Authorization": "Bearer " + token}).
		WithStartupTimeout(startTimeout).
		WithPollInterval(100 * time.Millisecond)
}

// removeLaunched leaves nothing of a failed launch behind: the container (and its volume), then
// the image tag built for it. err is the launch's error, with whatever removal failed added.
func removeLaunched(ctx context.Context, provider *testcontainers.DockerProvider, generic testcontainers.Container, tag string, err error) error {
	// The launch may have failed by its context; the removal must still run.
	cctx := context.WithoutCancel(ctx)
	if generic != nil {
		if terr := generic.Terminate(cctx); terr != nil {
			err = fmt.Errorf("%w\nterminate: %v", err, terr)
		}
	}
	if rerr := removeImage(cctx, provider, tag); rerr != nil {
		err = fmt.Errorf("%w\n%v", err, rerr)
	}
	return err
}

// withContainer completes info with what only the started container tells: the host port the
// engine picked, and the image it runs with its ID.
func withContainer(ctx context.Context, ctr *testcontainers.DockerContainer, info Info) (Info, error) {
	inspect, err := ctr.Inspect(ctx)
	if err != nil {
		return info, fmt.Errorf("inspect: %w", err)
	}
	port, err := ctr.MappedPort(ctx, containerPort)
	if err != nil {
		return info, fmt.Errorf("mapped port: %w", err)
	}
	info.BaseURL = fmt.Sprintf("http://127.0.0.1:%d", port.Num())
	if info.Image == "" {
		info.Image = ctr.Image
	}
	info.ImageID = inspect.Image
	info.MemoryMethod = methodDocker
	return info, nil
}

// removeImage removes the tag one start built, and the image with it unless another tag still
// names it. By tag, not by ID: two starts from the same binary build the same image, and one
// Stop must not take it from the other's running container.
func removeImage(ctx context.Context, p *testcontainers.DockerProvider, tag string) error {
	if tag == "" {
		return nil
	}
	if _, err := p.Client().ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
		return fmt.Errorf("remove image: %w", err)
	}
	return nil
}

func (c *containerTarget) Kind() Kind { return c.info.Kind }

// readMemory takes one container stats sample (one-shot: no wait for a second CPU sample).
func (c *containerTarget) readMemory(ctx context.Context) (reading, error) {
	res, err := c.provider.Client().ContainerStats(ctx, c.ctr.GetContainerID(), client.ContainerStatsOptions{})
	if err != nil {
		return reading{}, fmt.Errorf("container stats: %w", err)
	}
	defer res.Body.Close()
	var st container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		return reading{}, fmt.Errorf("container stats: %w", err)
	}
	return containerMemory(st.MemoryStats)
}

func (c *containerTarget) Logs(ctx context.Context) ([]byte, error) {
	return afterStop(&c.mu, &c.stopped,
		func() []byte { return bytes.Clone(c.finalLogs) },
		func() ([]byte, error) { return readLogs(ctx, c.ctr) })
}

// afterStop reads live while the target runs. Once stopped is set it returns kept instead,
// what Stop saved: Stop removes the containers, and with them the logs and state live reads.
func afterStop[T any](mu *sync.Mutex, stopped *bool, kept func() T, live func() (T, error)) (T, error) {
	mu.Lock()
	if *stopped {
		defer mu.Unlock()
		return kept(), nil
	}
	mu.Unlock()
	return live()
}

func readLogs(ctx context.Context, ctr testcontainers.Container) ([]byte, error) {
	rc, err := ctr.Logs(ctx)
	if err != nil {
		return nil, fmt.Errorf("container logs: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return b, fmt.Errorf("container logs: %w", err)
	}
	return b, nil
}

func (c *containerTarget) Restarts(ctx context.Context) (RunState, error) {
	return afterStop(&c.mu, &c.stopped,
		func() RunState { return c.final },
		func() (RunState, error) { return c.state(ctx) })
}

func (c *containerTarget) state(ctx context.Context) (RunState, error) {
	in, err := c.ctr.Inspect(ctx)
	if err != nil {
		return RunState{}, fmt.Errorf("container inspect: %w", err)
	}
	return runStateOf(in), nil
}

// runStateOf reads a RunState from container inspect.
func runStateOf(in *container.InspectResponse) RunState {
	rs := RunState{RestartCount: in.RestartCount, Status: "unknown"}
	if s := in.State; s != nil {
		rs.Status = string(s.Status)
		rs.OOMKilled = s.OOMKilled
		rs.ExitCode = s.ExitCode
		rs.Exited = !s.Running && !s.Restarting
		if rs.Exited {
			rs.Status = fmt.Sprintf("%s (%d)", s.Status, s.ExitCode)
		}
	}
	return rs
}

func (c *containerTarget) Stop(ctx context.Context) error {
	return c.stopOnce.do(func() error { return c.stop(ctx) })
}

func (c *containerTarget) stop(ctx context.Context) error {
	c.mem.stop()
	defer c.ws.remove()
	defer c.provider.Close()

	var errs []error
	before, err := c.state(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	if before.Exited {
		errs = append(errs, fmt.Errorf("exporter container had already exited with code %d", before.ExitCode))
	}

	grace := defaultStopGrace
	if d, ok := ctx.Deadline(); ok {
		grace = max(time.Until(d)-2*time.Second, time.Second)
	}
	if !before.Exited {
		// docker stop: SIGTERM, then SIGKILL after grace.
		if err := c.ctr.Stop(ctx, &grace); err != nil {
			errs = append(errs, fmt.Errorf("stop: %w", err))
		} else if after, err := c.state(ctx); err != nil {
			errs = append(errs, err)
		} else if after.ExitCode != 0 {
			errs = append(errs, fmt.Errorf("exporter exited with code %d after SIGTERM", after.ExitCode))
		}
	}
	logs, err := readLogs(ctx, c.ctr)
	if err != nil {
		errs = append(errs, err)
	}

	c.mu.Lock()
	c.stopped = true
	c.finalLogs = logs
	c.final = before
	c.mu.Unlock()

	// Removes the container and its /data volume, then the image tag built for it, if any: an
	// image this start did not build is not ours to remove.
	ctx = context.WithoutCancel(ctx)
	if err := c.ctr.Terminate(ctx); err != nil {
		errs = append(errs, fmt.Errorf("terminate: %w", err))
	}
	if err := removeImage(ctx, c.provider, c.built); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
