package target

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/exportatscale/exportatscale/internal/loopback"
	"github.com/exportatscale/exportatscale/internal/syncbuf"
)

// processTarget is the exporter running as a child process on loopback.
type processTarget struct {
	endpoint
	sampled
	*child
	logs *syncbuf.Buffer
	ws   workspace

	stopOnce stopOnce
}

func startProcess(ctx context.Context, o Options, sel selection) (_ Target, err error) {
	ws, err := newWorkspace(o)
	if err != nil {
		return nil, fmt.Errorf("process target: %w", err)
	}
	defer ws.removeIfFailed(&err)
	bin, binaryBuild, err := ws.binary(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("process target: %w", err)
	}

	token, err := newToken()
	if err != nil {
		return nil, err
	}
	tokens := filepath.Join(ws.dir, "tokens.txt")
	if err := os.WriteFile(tokens, tokensFile(token), 0o600); err != nil {
		return nil, fmt.Errorf("process target: %w", err)
	}
	dataDir := filepath.Join(ws.dir, "data")
	if o.DataDir != "" {
		// Absolute, because the exporter runs in the workspace.
		if dataDir, err = filepath.Abs(o.DataDir); err != nil {
			return nil, fmt.Errorf("process target: %w", err)
		}
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("process target: %w", err)
	}
	port, err := loopback.FreePort()
	if err != nil {
		return nil, fmt.Errorf("process target: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	args := append([]string{bin, "--listen", addr, "--data-dir", dataDir, "--tokens-file", tokens}, o.Args...)
	logs := &syncbuf.Buffer{}
	started := time.Now()
	c, err := startChild(args, ws.dir, processEnv(os.Environ(), o.envFor(addr, dataDir, tokens)), logs)
	if err != nil {
		return nil, fmt.Errorf("process target: start %s: %w", bin, err)
	}
	p := &processTarget{
		endpoint: endpoint{token: token, info: Info{
			Kind:         KindProcess,
			BaseURL:      "http://" + addr,
			Note:         sel.note,
			Engine:       sel.engine,
			BinaryPath:   bin,
			BinaryBuild:  binaryBuild,
			MemoryMethod: methodProc,
		}},
		child: c,
		logs:  logs,
		ws:    ws,
	}
	pid := c.pid()
	p.mem = newSampler(methodProc, func(context.Context) (reading, error) {
		return readProcMemory(pid)
	}, procPeakEvery)

	if err := waitReady(ctx, o, p.info.BaseURL, token, p.exited); err != nil {
		p.Stop(context.Background())
		return nil, fmt.Errorf("process target: %w\nexporter output:\n%s", err, tail(logs.Bytes(), 40))
	}
	p.info.Startup = time.Since(started)
	return p, nil
}

func (p *processTarget) Kind() Kind { return KindProcess }

func (p *processTarget) Logs(context.Context) ([]byte, error) {
	return p.logs.Bytes(), nil
}

func (p *processTarget) Restarts(context.Context) (RunState, error) {
	return p.runState(), nil
}

func (p *processTarget) Stop(ctx context.Context) error {
	return p.stopOnce.do(func() error { return p.stop(ctx) })
}

func (p *processTarget) stop(ctx context.Context) error {
	p.mem.stop()
	defer p.ws.remove()
	return p.terminate(ctx, "exporter")
}

// processEnv is the child's environment: the caller's without EXPORTER_* variables, plus
// extra, in a stable order.
func processEnv(base []string, extra map[string]string) []string {
	env := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		if !strings.HasPrefix(kv, "EXPORTER_") {
			env = append(env, kv)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		env = append(env, k+"="+extra[k])
	}
	return env
}

func readProcMemory(pid int) (reading, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return reading{}, err
	}
	defer f.Close()
	m, err := parseProcStatus(f)
	if err != nil {
		return reading{}, err
	}
	return m.reading(), nil
}

// waitReady polls baseURL and o's readiness path (/readyz unless the profile says otherwise)
// until it answers 200, o's start timeout passes, or gone closes.
func waitReady(ctx context.Context, o Options, baseURL, token string, gone <-chan struct{}) error {
	return waitOK(ctx, baseURL+o.readiness(), token, o.startTimeout(), gone)
}

// waitOK polls url with GET (and the bearer token, unless it is empty) until it answers 200, the
// timeout passes, or gone closes.
func waitOK(ctx context.Context, url, token string, timeout time.Duration, gone <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		last = probeOK(ctx, client, url, token)
		if last == nil {
			return nil
		}
		select {
		case <-gone:
			return fmt.Errorf("the process exited before it was ready (last check: %v)", last)
		case <-ctx.Done():
			return fmt.Errorf("not ready within %v: %v", timeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Ready asks the exporter at baseURL once whether it is ready (GET /readyz answered 200 within a
// second): nil if so, else why not.
func Ready(ctx context.Context, baseURL, token string) error {
	return probeOK(ctx, &http.Client{Timeout: time.Second}, baseURL+"/readyz", token)
}

// probeOK asks url once with GET whether it answers 200: nil if so, else why not.
func probeOK(ctx context.Context, client *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", req.URL.Path, resp.Status)
	}
	return nil
}

// tail returns the last n lines of b, for error messages.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
