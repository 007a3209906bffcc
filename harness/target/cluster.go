package target

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/exportatscale/exportatscale/harness/metrics"
	"github.com/exportatscale/exportatscale/internal/contract"
	"github.com/exportatscale/exportatscale/internal/pgtmp"
	"github.com/exportatscale/exportatscale/internal/syncbuf"
	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
)

// KindCluster is the deployment of docs/deployment.md on loopback: a throwaway PostgreSQL, N exporter
// replicas over it as containers on the host network, and HAProxy in front of them.
const KindCluster Kind = "cluster"

// ClusterOptions configure a cluster target. The zero value is the supported deployment: two
// replicas, health-checked by the proxy, restarted by the engine when they die.
type ClusterOptions struct {
	// Replicas is the number of exporter replicas (default 2, at most contract.MaxReplicas, the servers
	// deploy/haproxy.cfg declares).
	Replicas int
	// NoProxyHealthChecks turns the proxy's health checks off: a broken deployment for
	// self-tests, whose proxy keeps sending traffic to a dead replica.
	NoProxyHealthChecks bool
	// RestartPolicy is what happens to a replica whose exporter dies: "on-failure" (default),
	// "always" or "unless-stopped" restart it RestartDelay later; "no" (a broken deployment)
	// leaves it dead. The target itself plays the orchestrator here: the engine's own restart
	// policy restarts a container within milliseconds, far sooner than any orchestrator does
	// (Docker Swarm's restart delay defaults to 5 s, Kubernetes' crash-loop back-off starts at
	// 10 s), which would leave a dead replica no time to be noticed by the proxy at all.
	RestartPolicy string
	// RestartDelay is how long a dead replica stays dead before it is restarted (default 3 s).
	RestartDelay time.Duration
}

func (c ClusterOptions) restartDelay() time.Duration {
	if c.RestartDelay <= 0 {
		return 3 * time.Second
	}
	return c.RestartDelay
}

func (c ClusterOptions) replicas() int {
	if c.Replicas == 0 {
		return contract.DefaultReplicas
	}
	return c.Replicas
}

func (c ClusterOptions) restartPolicy() container.RestartPolicyMode {
	if c.RestartPolicy == "" {
		return container.RestartPolicyOnFailure
	}
	return container.RestartPolicyMode(c.RestartPolicy)
}

func (c ClusterOptions) validate() error {
	if err := contract.ValidateReplicas(c.replicas()); err != nil {
		return err
	}
	switch c.restartPolicy() {
	case container.RestartPolicyOnFailure, container.RestartPolicyAlways, container.RestartPolicyUnlessStopped, container.RestartPolicyDisabled:
	default:
		return fmt.Errorf("restart policy %q: want on-failure, always, unless-stopped or no", c.RestartPolicy)
	}
	return nil
}

// The cluster owns these besides the reserved flags: every replica uses its database.
const (
	postgresFlag = "postgres-dsn"
	postgresEnv  = "EXPORTER_POSTGRES_DSN"
)

// clusterTarget is KindCluster: everything it started, which Stop (or a failed Start) tears down.
type clusterTarget struct {
	endpoint
	provider *testcontainers.DockerProvider
	ws       workspace
	built    string // the image tag Start built
	db       *pgtmp.Cluster
	replicas []*replica
	mem      *clusterSampler

	proxy       *exec.Cmd
	proxyLogs   *syncbuf.Buffer
	proxyExited chan struct{}
	statsSocket string

	mu        sync.Mutex
	stopping  bool
	stopped   bool
	finalLogs []byte
	final     RunState

	stopOnce stopOnce
}

// replica is one exporter container of a cluster.
type replica struct {
	Replica
	ctr *testcontainers.DockerContainer
	mem *sampler
	// kills counts KillReplica calls: the restarts they cause are expected.
	kills int
	// restarts counts the restarts of the target's supervisor (superviseReplica).
	restarts int
}

// startCluster checks what the machine must have before it starts anything, then builds the
// image once and starts the database, the replicas and the proxy. On error it tears down whatever
// it started.
func startCluster(ctx context.Context, o Options, sel selection) (_ Target, err error) {
	if err := checkClusterArgs(o); err != nil {
		return nil, err
	}
	host, err := checkClusterHost(ctx, o)
	if err != nil {
		return nil, err
	}
	ws, err := newWorkspace(o)
	if err != nil {
		return nil, fmt.Errorf("cluster target: %w", err)
	}
	c := &clusterTarget{ws: ws, proxyLogs: &syncbuf.Buffer{}}
	defer func() {
		if err != nil {
			// Leave nothing behind, whatever was started.
			if terr := c.teardown(context.WithoutCancel(ctx)); terr != nil {
				err = fmt.Errorf("%w\nteardown: %v", err, terr)
			}
		}
	}()
	if err := c.build(ctx, o, sel, host); err != nil {
		return nil, err
	}
	if err := c.start(ctx, o, host.cfgPath); err != nil {
		return nil, err
	}
	return c, nil
}

// checkClusterArgs refuses options the cluster contradicts: the replicas' database is the
// cluster's own, so neither its flag nor its variable may come from the caller.
func checkClusterArgs(o Options) error {
	if err := o.Cluster.validate(); err != nil {
		return fmt.Errorf("cluster target: %w", err)
	}
	for _, a := range o.Args {
		if name, ok := flagName(a); ok && name == postgresFlag {
			return fmt.Errorf("cluster target: flag --%s is set by the target, not by Args", postgresFlag)
		}
	}
	if _, ok := o.Env[postgresEnv]; ok {
		return fmt.Errorf("cluster target: environment variable %s is set by the target, not by Env", postgresEnv)
	}
	return nil
}

// clusterHost is what a cluster needs of the machine it runs on.
type clusterHost struct {
	proxyVersion string
	engine       EngineInfo
	root         string // the repository root
	cfgPath      string // proxyConfig under root
}

// checkClusterHost finds what the machine must have, before anything is started: a missing
// HAProxy, PostgreSQL or engine is ErrTargetUnavailable, not a failure half-way through a start.
func checkClusterHost(ctx context.Context, o Options) (clusterHost, error) {
	var h clusterHost
	var err error
	if h.proxyVersion, err = haproxyVersion(ctx); err != nil {
		return h, clusterUnavailable(err)
	}
	if _, err := pgtmp.BinDir(); err != nil {
		return h, clusterUnavailable(err)
	}
	probe := o.probe
	if probe == nil {
		probe = ProbeEngine
	}
	if h.engine, err = probe(ctx); err != nil {
		return h, clusterUnavailable(err)
	}
	if h.root, err = o.repoRoot(); err != nil {
		return h, fmt.Errorf("cluster target: %w", err)
	}
	h.cfgPath = filepath.Join(h.root, proxyConfig)
	if _, err := os.Stat(h.cfgPath); err != nil {
		return h, fmt.Errorf("cluster target: proxy configuration: %w", err)
	}
	return h, nil
}

// clusterUnavailable marks err as this machine lacking what a cluster needs, so that a run
// requiring the kind is reported as not run rather than as failed.
func clusterUnavailable(err error) error {
	return fmt.Errorf("cluster target: %w: %w", ErrTargetUnavailable, err)
}

// build makes what every replica runs, once: the exporter binary, the token and the image. It
// fills in Info first, so that even a failed build's evidence says which deployment it was.
func (c *clusterTarget) build(ctx context.Context, o Options, sel selection, host clusterHost) error {
	bin, binaryBuild, err := c.ws.binary(ctx, o)
	if err != nil {
		return fmt.Errorf("cluster target: %w", err)
	}
	if c.provider, err = newProvider(); err != nil {
		return clusterUnavailable(err)
	}
	if c.token, err = newToken(); err != nil {
		return err
	}
	c.info = clusterInfo(o, sel, host, bin, binaryBuild)
	buildStart := time.Now()
	if err := c.buildImage(ctx, o, host.root, bin); err != nil {
		return fmt.Errorf("cluster target: %w", err)
	}
	c.info.ImageBuild = time.Since(buildStart)
	return nil
}

// clusterInfo is the Info of a cluster before it starts. A broken deployment says so in its
// note, so that no report takes its results for the supported deployment's.
func clusterInfo(o Options, sel selection, host clusterHost, bin string, binaryBuild time.Duration) Info {
	engine := host.engine
	info := Info{
		Kind:         KindCluster,
		Note:         fmt.Sprintf("%s: %d replicas (%s)", sel.note, o.Cluster.replicas(), engine),
		Engine:       &engine,
		BinaryPath:   bin,
		BinaryBuild:  binaryBuild,
		MemoryMethod: methodCluster,
		Proxy:        host.proxyVersion,
	}
	if o.Cluster.NoProxyHealthChecks {
		info.Note += "; BROKEN deployment: the proxy has no health checks"
	}
	if p := o.Cluster.restartPolicy(); p == container.RestartPolicyDisabled {
		info.Note += "; BROKEN deployment: replicas are never restarted"
	}
	return info
}

// start runs the database, then the replicas over it, then the proxy in front of them: each
// needs the one before it up. Info.Startup is the time all three take; the image build is
// timed apart, in build.
func (c *clusterTarget) start(ctx context.Context, o Options, cfgPath string) error {
	startup := time.Now()
	var err error
	c.db, err = pgtmp.Start(ctx, pgtmp.Options{}) // durable: fsync on
	if err != nil {
		return fmt.Errorf("cluster target: PostgreSQL: %w", err)
	}
	c.info.Database = "PostgreSQL " + c.DatabaseVersion()

	for i := range o.Cluster.replicas() {
		if err := c.startReplica(ctx, o, i); err != nil {
			return fmt.Errorf("cluster target: %w", err)
		}
	}
	samplers := make([]*sampler, len(c.replicas))
	for i, r := range c.replicas {
		samplers[i] = r.mem
		c.info.Replicas = append(c.info.Replicas, r.Replica)
	}
	c.mem = &clusterSampler{replicas: samplers}

	if err := c.startProxy(ctx, o, cfgPath); err != nil {
		return fmt.Errorf("cluster target: %w", err)
	}
	c.info.Startup = time.Since(startup)
	return nil
}

// buildImage builds the exporter's FROM scratch image once, as the container kind does; every
// replica runs it.
func (c *clusterTarget) buildImage(ctx context.Context, o Options, root, bin string) error {
	dir := filepath.Join(c.ws.dir, "image")
	if err := prepareImageContext(root, bin, dir); err != nil {
		return fmt.Errorf("image context: %w", err)
	}
	tag, err := randomHex(6)
	if err != nil {
		return err
	}
	req := testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context: dir, Dockerfile: "Dockerfile", Repo: imageRepo, Tag: tag, BuildLogWriter: o.logWriter(),
	}}
	c.built = imageRepo + ":" + tag // removed by teardown, even after a build that failed half-way
	if _, err := c.provider.BuildImage(ctx, &req); err != nil {
		return fmt.Errorf("build image: %w", err)
	}
	in, err := c.provider.Client().ImageInspect(ctx, c.built)
	if err != nil {
		return fmt.Errorf("inspect image: %w", err)
	}
	c.info.Image, c.info.ImageID = c.built, in.ID
	return nil
}

func (c *clusterTarget) Kind() Kind { return KindCluster }

// RestartDatabase restarts PostgreSQL on its port; the replicas reconnect on their own.
func (c *clusterTarget) RestartDatabase(ctx context.Context, mode string) error {
	return c.db.Restart(ctx, mode)
}

func (c *clusterTarget) DatabaseDSN() string { return c.db.DSN("postgres") }

// DatabaseVersion is the server's version as postgres --version ends it ("15.18-0+deb12u1",
// the last word of "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)", without its ")").
func (c *clusterTarget) DatabaseVersion() string { return c.db.Version }

// ScrapeMetrics scrapes each replica's /metrics at its own URL.
func (c *clusterTarget) ScrapeMetrics(ctx context.Context) ([]metrics.Snapshot, error) {
	hc := &http.Client{Timeout: 30 * time.Second}
	out := make([]metrics.Snapshot, len(c.replicas))
	for i, r := range c.replicas {
		s, err := metrics.Scrape(ctx, hc, r.URL, c.token)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Name, err)
		}
		out[i] = s
	}
	return out, nil
}
