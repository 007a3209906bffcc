package target

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"
)

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
	return c.stopOnce.do(func() error { return c.stop(ctx) })
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
		wg.Go(func() { stopped[i], replicaErrs[i] = r.stop(ctx, grace) })
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

// stop stops the replica's container if it runs (SIGTERM, then SIGKILL after grace) and removes
// it. It returns the replica's logs, read between the two so that they end with its shutdown,
// and what went wrong, a non-zero exit after SIGTERM included.
func (r *replica) stop(ctx context.Context, grace time.Duration) (logs []byte, err error) {
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
	logs, _ = readLogs(ctx, r.ctr)
	if err := r.ctr.Terminate(context.WithoutCancel(ctx)); err != nil {
		rerrs = append(rerrs, fmt.Errorf("terminate: %w", err))
	}
	if len(rerrs) > 0 {
		return logs, fmt.Errorf("%s: %w", r.Name, errors.Join(rerrs...))
	}
	return logs, nil
}
