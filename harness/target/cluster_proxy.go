package target

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/exportatscale/exportatscale/internal/loopback"
)

// proxyConfig is the supported front-proxy configuration, relative to the repository root. The
// target runs it verbatim, configured by its environment variables.
const proxyConfig = "deploy/haproxy.cfg"

// proxyBackend is the backend of proxyConfig whose servers are the replicas.
const proxyBackend = "exporters"

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
	if err := waitReady(ctx, o, c.info.BaseURL, c.token, c.proxyExited); err != nil {
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
