package target

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"

	"github.com/exportatscale/exportatscale/harness/metrics"
	"github.com/exportatscale/exportatscale/internal/contract"
	"github.com/exportatscale/exportatscale/internal/loopback"
	"github.com/exportatscale/exportatscale/internal/pgtmp"
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

// proxyConfig is the supported front-proxy configuration, relative to the repository root. The
// target runs it verbatim, configured by its environment variables.
const proxyConfig = "deploy/haproxy.cfg"

// proxyBackend is the backend of proxyConfig whose servers are the replicas.
const proxyBackend = "exporters"

const methodCluster = "per replica: " + methodDocker + "; a window's peak is the highest replica's peak, its series the samples of that replica"

// clusterTarget is KindCluster: everything it started, which Stop (or a failed Start) tears down.
type clusterTarget struct {
	info     Info
	token    string
	provider *testcontainers.DockerProvider
	ws       workspace
	built    string // the image tag Start built
	db       *pgtmp.Cluster
	replicas []*replica
	mem      *clusterSampler

	proxy       *exec.Cmd
	proxyLogs   *lockedBuffer
	proxyExited chan struct{}
	statsSocket string

	mu        sync.Mutex
	stopping  bool
	stopped   bool
	finalLogs []byte
	final     RunState

	stopOnce sync.Once
	stopErr  error
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

func startCluster(ctx context.Context, o Options, sel selection) (_ Target, err error) {
	if err := o.Cluster.validate(); err != nil {
		return nil, fmt.Errorf("cluster target: %w", err)
	}
	for _, a := range o.Args {
		if name, ok := flagName(a); ok && name == postgresFlag {
			return nil, fmt.Errorf("cluster target: flag --%s is set by the target, not by Args", postgresFlag)
		}
	}
	if _, ok := o.Env[postgresEnv]; ok {
		return nil, fmt.Errorf("cluster target: environment variable %s is set by the target, not by Env", postgresEnv)
	}
	unavailable := func(err error) error { return fmt.Errorf("cluster target: %w: %w", ErrTargetUnavailable, err) }
	// What this machine must have, checked before anything is started.
	proxyVersion, err := haproxyVersion(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	if _, err := pgtmp.BinDir(); err != nil {
		return nil, unavailable(err)
	}
	probe := o.probe
	if probe == nil {
		probe = ProbeEngine
	}
	engine, err := probe(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	root, err := o.repoRoot()
	if err != nil {
		return nil, fmt.Errorf("cluster target: %w", err)
	}
	cfgPath := filepath.Join(root, proxyConfig)
	if _, err := os.Stat(cfgPath); err != nil {
		return nil, fmt.Errorf("cluster target: proxy configuration: %w", err)
	}

	ws, err := newWorkspace(o)
	if err != nil {
		return nil, fmt.Errorf("cluster target: %w", err)
	}
	c := &clusterTarget{ws: ws, proxyLogs: &lockedBuffer{}}
	defer func() {
		if err != nil {
			// Leave nothing behind, whatever was started.
			if terr := c.teardown(context.WithoutCancel(ctx)); terr != nil {
				err = fmt.Errorf("%w\nteardown: %v", err, terr)
			}
		}
	}()
	bin, binaryBuild, err := ws.binary(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("cluster target: %w", err)
	}
	if c.provider, err = newProvider(); err != nil {
		return nil, unavailable(err)
	}
	if c.token, err = newToken(); err != nil {
		return nil, err
	}
	c.info = Info{
		Kind:         KindCluster,
		Note:         fmt.Sprintf("%s: %d replicas (%s)", sel.note, o.Cluster.replicas(), engine),
		Engine:       &engine,
		BinaryPath:   bin,
		BinaryBuild:  binaryBuild,
		MemoryMethod: methodCluster,
		Proxy:        proxyVersion,
	}
	if o.Cluster.NoProxyHealthChecks {
		c.info.Note += "; BROKEN deployment: the proxy has no health checks"
	}
	if p := o.Cluster.restartPolicy(); p == container.RestartPolicyDisabled {
		c.info.Note += "; BROKEN deployment: replicas are never restarted"
	}

	buildStart := time.Now()
	if err := c.buildImage(ctx, o, root, bin); err != nil {
		return nil, fmt.Errorf("cluster target: %w", err)
	}
	c.info.ImageBuild = time.Since(buildStart)
	startup := time.Now()

	c.db, err = pgtmp.Start(ctx, pgtmp.Options{}) // durable: fsync on
	if err != nil {
		return nil, fmt.Errorf("cluster target: PostgreSQL: %w", err)
	}
	c.info.Database = "PostgreSQL " + c.DatabaseVersion()

	for i := range o.Cluster.replicas() {
		if err := c.startReplica(ctx, o, i); err != nil {
			return nil, fmt.Errorf("cluster target: %w", err)
		}
	}
	samplers := make([]*sampler, len(c.replicas))
	for i, r := range c.replicas {
		samplers[i] = r.mem
		c.info.Replicas = append(c.info.Replicas, r.Replica)
	}
	c.mem = &clusterSampler{replicas: samplers}

	if err := c.startProxy(ctx, o, cfgPath); err != nil {
		return nil, fmt.Errorf("cluster target: %w", err)
	}
	c.info.Startup = time.Since(startup)
	return c, nil
}

// haproxyVersion runs haproxy -v: "HAProxy 2.6.12-1+deb12u4".
func haproxyVersion(ctx context.Context) (string, error) {
	path, err := exec.LookPath("haproxy")
	if err != nil {
		return "", errors.New("no haproxy on PATH (install HAProxy 2.6: apt-get install haproxy, or make tools-haproxy)")
	}
	out, err := exec.CommandContext(ctx, path, "-v").Output()
	if err != nil {
		return "", fmt.Errorf("haproxy -v: %w", err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	// "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/"
	if f := strings.Fields(line); len(f) >= 3 && f[1] == "version" {
		return "HAProxy " + f[2], nil
	}
	return strings.TrimSpace(line), nil
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

// startReplica runs replica i on the host network, listening on a free loopback port, over the
// cluster's database, and waits for its /readyz.
func (c *clusterTarget) startReplica(ctx context.Context, o Options, i int) error {
	name := fmt.Sprintf("replica-%d", i+1)
	port, err := loopback.FreePort()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	env := map[string]string{postgresEnv: c.db.DSN("postgres")}
	for k, v := range o.Env {
		env[k] = v
	}
	req := testcontainers.ContainerRequest{
		Image: c.built,
		Env:   env,
		Cmd:   append([]string{"--listen", addr, "--tokens-file", containerTokens}, o.Args...),
		Files: []testcontainers.ContainerFile{{
			Reader: bytes.NewReader(tokensFile(c.token)), ContainerFilePath: containerTokens, FileMode: 0o444,
		}},
		HostConfigModifier: func(hc *container.HostConfig) {
			// The replica binds 127.0.0.1 of the host itself: no published port, no proxy of the
			// engine's between HAProxy and the exporter, and the database on the host's loopback.
			hc.NetworkMode = "host"
			// The engine never restarts it: superviseReplica does, as an orchestrator would.
			hc.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyDisabled}
		},
	}
	generic, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: req, Started: true, Logger: tcLogger{o.logWriter()},
	})
	if generic != nil {
		r := &replica{Replica: Replica{Name: name, URL: "http://" + addr}, ctr: generic.(*testcontainers.DockerContainer)}
		r.mem = newSampler(methodDocker, r.readMemory(c.provider), 0)
		c.replicas = append(c.replicas, r) // torn down on failure from here on
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	r := c.replicas[len(c.replicas)-1]
	if err := waitReady(ctx, r.URL, c.token, o.startTimeout(), nil); err != nil {
		logs, _ := readLogs(ctx, r.ctr)
		return fmt.Errorf("%s: %w\nexporter output:\n%s", name, err, tail(logs, 40))
	}
	if o.Cluster.restartPolicy() != container.RestartPolicyDisabled {
		go c.superviseReplica(r, o.Cluster.restartDelay())
	}
	return nil
}

// superviseReplica restarts r delay after its exporter died, until the cluster stops.
func (c *clusterTarget) superviseReplica(r *replica, delay time.Duration) {
	var deadSince time.Time
	for {
		time.Sleep(100 * time.Millisecond)
		c.mu.Lock()
		stopping := c.stopping
		c.mu.Unlock()
		if stopping {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		in, err := r.ctr.Inspect(ctx)
		switch {
		case err != nil || in.State == nil:
		case in.State.Running || in.State.Restarting:
			deadSince = time.Time{}
		case deadSince.IsZero():
			deadSince = time.Now()
		case time.Since(deadSince) >= delay:
			c.mu.Lock()
			stopping = c.stopping
			c.mu.Unlock()
			if !stopping && r.ctr.Start(ctx) == nil {
				c.mu.Lock()
				r.restarts++
				c.mu.Unlock()
				deadSince = time.Time{}
			}
		}
		cancel()
	}
}

// readMemory is a replica's memory from its container stats.
func (r *replica) readMemory(p *testcontainers.DockerProvider) func(context.Context) (reading, error) {
	ct := &containerTarget{ctr: r.ctr, provider: p}
	return ct.readMemory
}

// startProxy runs HAProxy on proxyConfig, as it is, in the foreground, with the replicas'
// addresses in its environment, and waits until it routes to every replica.
func (c *clusterTarget) startProxy(ctx context.Context, o Options, cfgPath string) error {
	port, err := loopback.FreePort()
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	c.statsSocket = filepath.Join(c.ws.dir, "haproxy.sock")
	env := append(os.Environ(), "EXPORTER_PROXY_BIND="+addr, "EXPORTER_PROXY_STATS="+c.statsSocket)
	for i, r := range c.replicas {
		env = append(env, fmt.Sprintf("EXPORTER_REPLICA_%d=%s", i+1, strings.TrimPrefix(r.URL, "http://")))
	}
	if o.Cluster.NoProxyHealthChecks {
		env = append(env, "EXPORTER_PROXY_NO_CHECKS=1")
	}
	cmd := exec.Command("haproxy", "-db", "-f", cfgPath)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = c.proxyLogs, c.proxyLogs
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("proxy: start haproxy: %w", err)
	}
	c.proxy, c.proxyExited = cmd, make(chan struct{})
	go func() {
		cmd.Wait()
		close(c.proxyExited)
	}()
	c.info.BaseURL = "http://" + addr
	if err := waitReady(ctx, c.info.BaseURL, c.token, o.startTimeout(), c.proxyExited); err != nil {
		return fmt.Errorf("proxy: %w\nhaproxy output:\n%s", err, tail(c.proxyLogs.Bytes(), 40))
	}
	deadline := time.Now().Add(o.startTimeout())
	for i := range c.replicas {
		for {
			up, _, err := c.ProxyState(ctx, i)
			if err == nil && up {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("proxy: %s not UP within %v (%v)\nhaproxy output:\n%s", c.replicas[i].Name, o.startTimeout(), err, tail(c.proxyLogs.Bytes(), 40))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func (c *clusterTarget) Kind() Kind      { return KindCluster }
func (c *clusterTarget) BaseURL() string { return c.info.BaseURL }
func (c *clusterTarget) Token() string   { return c.token }
func (c *clusterTarget) Info() Info      { return c.info }

// Replicas lists the replicas in their order.
func (c *clusterTarget) Replicas() []Replica {
	out := make([]Replica, len(c.replicas))
	for i, r := range c.replicas {
		out[i] = r.Replica
	}
	return out
}

func (c *clusterTarget) replica(i int) (*replica, error) {
	if i < 0 || i >= len(c.replicas) {
		return nil, fmt.Errorf("no replica %d (the cluster has %d)", i, len(c.replicas))
	}
	return c.replicas[i], nil
}

// KillReplica sends SIGKILL to the replica's exporter from the host: the container's main
// process, which in a FROM scratch image is the exporter itself.
func (c *clusterTarget) KillReplica(ctx context.Context, i int) error {
	r, err := c.replica(i)
	if err != nil {
		return err
	}
	in, err := r.ctr.Inspect(ctx)
	if err != nil {
		return fmt.Errorf("%s: inspect: %w", r.Name, err)
	}
	if in.State == nil || !in.State.Running || in.State.Pid == 0 {
		return fmt.Errorf("%s: not running", r.Name)
	}
	c.mu.Lock()
	r.kills++
	c.mu.Unlock()
	if err := syscall.Kill(in.State.Pid, syscall.SIGKILL); err != nil {
		c.mu.Lock()
		r.kills--
		c.mu.Unlock()
		return fmt.Errorf("%s: kill -9 %d: %w", r.Name, in.State.Pid, err)
	}
	return nil
}

// ReplicaRestarts is how often replica i was restarted after it died, whatever killed it.
func (c *clusterTarget) ReplicaRestarts(ctx context.Context, i int) (int, error) {
	r, err := c.replica(i)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return r.restarts, nil
}

// ProxyState reads HAProxy's stats for replica i: UP (or checks off) is routed to; stot is the
// number of requests (streams) the proxy sent it.
func (c *clusterTarget) ProxyState(ctx context.Context, i int) (bool, int64, error) {
	r, err := c.replica(i)
	if err != nil {
		return false, 0, err
	}
	rows, err := c.proxyStats(ctx)
	if err != nil {
		return false, 0, err
	}
	for _, row := range rows {
		if row["pxname"] == proxyBackend && row["svname"] == r.Name {
			n, err := strconv.ParseInt(row["stot"], 10, 64)
			if err != nil {
				return false, 0, fmt.Errorf("haproxy stats: %s stot %q: %w", r.Name, row["stot"], err)
			}
			st := row["status"]
			return strings.HasPrefix(st, "UP") || st == "no check", n, nil
		}
	}
	return false, 0, fmt.Errorf("haproxy stats: no server %s in backend %s", r.Name, proxyBackend)
}

// proxyStats runs "show stat" on the stats socket: one map per proxy and server, by column.
func (c *clusterTarget) proxyStats(ctx context.Context) ([]map[string]string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.statsSocket)
	if err != nil {
		return nil, fmt.Errorf("haproxy stats socket: %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "show stat\n"); err != nil {
		return nil, fmt.Errorf("haproxy stats socket: %w", err)
	}
	raw, err := io.ReadAll(conn)
	if err != nil {
		return nil, fmt.Errorf("haproxy stats socket: %w", err)
	}
	return parseStats(raw)
}

// parseStats parses HAProxy's CSV statistics, whose header line starts "# ".
func parseStats(raw []byte) ([]map[string]string, error) {
	raw = bytes.TrimPrefix(bytes.TrimSpace(raw), []byte("# "))
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("haproxy stats: %w", err)
	}
	if len(recs) == 0 {
		return nil, errors.New("haproxy stats: empty")
	}
	var out []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for j, col := range recs[0] {
			if j < len(rec) {
				row[col] = rec[j]
			}
		}
		out = append(out, row)
	}
	return out, nil
}

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

func (c *clusterTarget) StartSampling(interval time.Duration) error { return c.mem.start(interval) }
func (c *clusterTarget) Peak() (MemoryWindow, bool)                 { return c.mem.peak() }
func (c *clusterTarget) ResetPeak() (MemoryWindow, bool)            { return c.mem.reset() }

// Logs are every replica's output, each under a header line naming it, then HAProxy's.
func (c *clusterTarget) Logs(ctx context.Context) ([]byte, error) {
	return afterStop(&c.mu, &c.stopped,
		func() []byte { return bytes.Clone(c.finalLogs) },
		func() ([]byte, error) { return c.logs(ctx) })
}

func (c *clusterTarget) logs(ctx context.Context) ([]byte, error) {
	outputs := make([][]byte, len(c.replicas))
	var errs []error
	for i, r := range c.replicas {
		b, err := readLogs(ctx, r.ctr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Name, err))
		}
		outputs[i] = b
	}
	return c.joinLogs(outputs), errors.Join(errs...)
}

// joinLogs puts each replica's output under a header line naming it, then HAProxy's. The lines
// themselves are left as they are, so a panic still starts its line.
func (c *clusterTarget) joinLogs(outputs [][]byte) []byte {
	var buf bytes.Buffer
	for i, r := range c.replicas {
		fmt.Fprintf(&buf, "==> %s (%s) <==\n", r.Name, r.URL)
		buf.Write(outputs[i])
		if b := outputs[i]; len(b) > 0 && b[len(b)-1] != '\n' {
			buf.WriteByte('\n')
		}
	}
	fmt.Fprintf(&buf, "==> haproxy (%s) <==\n", c.info.BaseURL)
	buf.Write(c.proxyLogs.Bytes())
	return buf.Bytes()
}

// Restarts sums the replicas' restarts, less those KillReplica caused (a kill that the engine
// has not yet answered with a restart is not subtracted from anything). Exited is true when a
// replica is down (even one the harness killed, if it was never restarted) or the proxy exited
// by itself.
func (c *clusterTarget) Restarts(ctx context.Context) (RunState, error) {
	return afterStop(&c.mu, &c.stopped,
		func() RunState { return c.final },
		func() (RunState, error) { return c.state(ctx) })
}

func (c *clusterTarget) state(ctx context.Context) (RunState, error) {
	var total RunState
	var status []string
	for _, r := range c.replicas {
		in, err := r.ctr.Inspect(ctx)
		if err != nil {
			return RunState{}, fmt.Errorf("%s: inspect: %w", r.Name, err)
		}
		rs := runStateOf(in)
		c.mu.Lock()
		rs.RestartCount = r.restarts
		expected := min(r.kills, rs.RestartCount)
		c.mu.Unlock()
		total.RestartCount += rs.RestartCount - expected
		total.ExpectedRestarts += expected
		total.OOMKilled = total.OOMKilled || rs.OOMKilled
		if rs.Exited && !total.Exited {
			total.Exited, total.ExitCode = true, rs.ExitCode
		}
		s := fmt.Sprintf("%s %s", r.Name, rs.Status)
		if rs.RestartCount > 0 {
			s += fmt.Sprintf(", %d restarts (%d expected)", rs.RestartCount, expected)
		}
		status = append(status, s)
	}
	if c.proxyExited != nil {
		select {
		case <-c.proxyExited:
			c.mu.Lock()
			stopping := c.stopping
			c.mu.Unlock()
			if !stopping {
				total.Exited = true
				status = append(status, "haproxy exited")
			}
		default:
		}
	}
	total.Status = strings.Join(status, "; ")
	return total, nil
}

func (c *clusterTarget) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() { c.stopErr = c.stop(ctx) })
	return c.stopErr
}

func (c *clusterTarget) stop(ctx context.Context) error {
	var errs []error
	before, err := c.state(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	if before.Exited {
		errs = append(errs, fmt.Errorf("before Stop: %s", before.Status))
	}
	c.mu.Lock()
	c.final = before
	c.mu.Unlock()
	// teardown keeps the logs as the containers end, their shutdown lines included.
	if err := c.teardown(ctx); err != nil {
		errs = append(errs, err)
	}
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	return errors.Join(errs...)
}

// teardown stops and removes whatever of the cluster exists: the proxy first (no new requests),
// then the replicas (SIGTERM, their graceful shutdown, then removal with their volumes), the
// database, the image and the workspace. Every part is attempted whatever failed before it.
func (c *clusterTarget) teardown(ctx context.Context) error {
	var errs []error
	if c.mem != nil {
		c.mem.stop()
	} else {
		for _, r := range c.replicas {
			r.mem.stop()
		}
	}
	c.mu.Lock()
	c.stopping = true
	c.mu.Unlock()
	if c.proxy != nil {
		c.proxy.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.proxyExited:
		case <-time.After(10 * time.Second):
			c.proxy.Process.Kill()
			<-c.proxyExited
			errs = append(errs, errors.New("haproxy did not exit after SIGTERM; killed"))
		}
	}
	grace := defaultStopGrace
	if d, ok := ctx.Deadline(); ok {
		grace = max(time.Until(d)-5*time.Second, time.Second)
	}
	var wg sync.WaitGroup
	replicaErrs := make([]error, len(c.replicas))
	stopped := make([][]byte, len(c.replicas))
	for i, r := range c.replicas {
		wg.Go(func() {
			var rerrs []error
			in, err := r.ctr.Inspect(ctx)
			running := err == nil && in.State != nil && (in.State.Running || in.State.Restarting)
			if running {
				if err := r.ctr.Stop(ctx, &grace); err != nil {
					rerrs = append(rerrs, fmt.Errorf("stop: %w", err))
				} else if in, err := r.ctr.Inspect(ctx); err == nil && in.State != nil && in.State.ExitCode != 0 {
					rerrs = append(rerrs, fmt.Errorf("exited with code %d after SIGTERM", in.State.ExitCode))
				}
			}
			stopped[i], _ = readLogs(ctx, r.ctr)
			if err := r.ctr.Terminate(context.WithoutCancel(ctx)); err != nil {
				rerrs = append(rerrs, fmt.Errorf("terminate: %w", err))
			}
			if len(rerrs) > 0 {
				replicaErrs[i] = fmt.Errorf("%s: %w", r.Name, errors.Join(rerrs...))
			}
		})
	}
	wg.Wait()
	errs = append(errs, replicaErrs...)
	final := c.joinLogs(stopped)
	c.mu.Lock()
	c.finalLogs = final
	c.mu.Unlock()

	if c.db != nil {
		if err := c.db.Remove(); err != nil {
			errs = append(errs, fmt.Errorf("PostgreSQL: %w", err))
		}
	}
	if c.provider != nil {
		if err := removeImage(context.WithoutCancel(ctx), c.provider, c.built); err != nil && c.info.ImageID != "" {
			errs = append(errs, err)
		}
		c.provider.Close()
	}
	if err := c.ws.remove(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// clusterSampler samples every replica with a sampler of its own and reports, per window, the
// replica whose peak was highest: A4's budget is per exporter, and the replica that served the
// large export is the one whose memory would grow.
type clusterSampler struct {
	replicas []*sampler
}

func (s *clusterSampler) start(interval time.Duration) error {
	for i, r := range s.replicas {
		if err := r.start(interval); err != nil {
			for _, started := range s.replicas[:i] {
				started.stop()
			}
			return err
		}
	}
	return nil
}

func (s *clusterSampler) peak() (MemoryWindow, bool) {
	ws := make([]MemoryWindow, len(s.replicas))
	oks := make([]bool, len(s.replicas))
	for i, r := range s.replicas {
		ws[i], oks[i] = r.peak()
	}
	return combineWindows(ws, oks)
}

// reset closes every replica's window at once: each takes a closing sample of about a second.
func (s *clusterSampler) reset() (MemoryWindow, bool) {
	ws := make([]MemoryWindow, len(s.replicas))
	oks := make([]bool, len(s.replicas))
	var wg sync.WaitGroup
	for i, r := range s.replicas {
		wg.Go(func() { ws[i], oks[i] = r.reset() })
	}
	wg.Wait()
	return combineWindows(ws, oks)
}

func (s *clusterSampler) stop() {
	for _, r := range s.replicas {
		r.stop()
	}
}

// combineWindows is the window of the replica with the highest anonymous peak, with the other
// figures taken over all replicas: the highest file peak, samples and errors summed.
func combineWindows(ws []MemoryWindow, oks []bool) (MemoryWindow, bool) {
	best, any := -1, false
	for i, w := range ws {
		if oks[i] && (best < 0 || w.PeakBytes > ws[best].PeakBytes) {
			best = i
		}
		any = any || oks[i]
	}
	if best < 0 {
		best = 0
	}
	out := ws[best]
	out.Method = methodCluster
	out.Samples, out.Errors, out.PeakFileBytes = 0, 0, 0
	for _, w := range ws {
		out.Samples += w.Samples
		out.Errors += w.Errors
		out.PeakFileBytes = max(out.PeakFileBytes, w.PeakFileBytes)
		if w.LastError != "" {
			out.LastError = w.LastError
		}
		if out.Start.IsZero() || (!w.Start.IsZero() && w.Start.Before(out.Start)) {
			out.Start = w.Start
		}
		if w.End.After(out.End) {
			out.End = w.End
		}
	}
	return out, any
}
