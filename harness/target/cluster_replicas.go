package target

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/exportatscale/exportatscale/internal/loopback"
	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
)

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
	for k, v := range o.envFor(addr, contractDataDir, containerTokens) {
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
	if err := waitReady(ctx, o, r.URL, c.token, nil); err != nil {
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
