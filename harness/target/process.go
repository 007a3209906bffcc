package target

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/exportatscale/exportatscale/internal/loopback"
	"github.com/exportatscale/exportatscale/internal/syncbuf"
)

// processTarget is the exporter running as a child process on loopback.
type processTarget struct {
	endpoint
	sampled
	cmd  *exec.Cmd
	logs *syncbuf.Buffer
	ws   workspace

	exited   chan struct{} // closed when the process has exited
	mu       sync.Mutex
	stopping bool // Stop sent SIGTERM; an exit after it is expected
	exitCode int

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

	args := append([]string{"--listen", addr, "--data-dir", dataDir, "--tokens-file", tokens}, o.Args...)
	cmd := exec.Command(bin, args...)
	cmd.Env = processEnv(os.Environ(), o.Env)
	cmd.Dir = ws.dir
	logs := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = childProcAttr()

	started := time.Now()
	if err := cmd.Start(); err != nil {
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
		cmd:    cmd,
		logs:   logs,
		ws:     ws,
		exited: make(chan struct{}),
	}
	pid := cmd.Process.Pid
	p.mem = newSampler(methodProc, func(context.Context) (reading, error) {
		return readProcMemory(pid)
	}, procPeakEvery)
	go p.wait()

	if err := waitReady(ctx, p.info.BaseURL, token, o.startTimeout(), p.exited); err != nil {
		p.Stop(context.Background())
		return nil, fmt.Errorf("process target: %w\nexporter output:\n%s", err, tail(logs.Bytes(), 40))
	}
	p.info.Startup = time.Since(started)
	return p, nil
}

// wait reaps the child and records its exit code.
func (p *processTarget) wait() {
	err := p.cmd.Wait()
	code := 0
	if err != nil {
		code = -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode() // -1 when killed by a signal
		}
	}
	p.mu.Lock()
	p.exitCode = code
	p.mu.Unlock()
	close(p.exited)
}

func (p *processTarget) Kind() Kind { return KindProcess }

func (p *processTarget) Logs(context.Context) ([]byte, error) {
	return p.logs.Bytes(), nil
}

func (p *processTarget) Restarts(context.Context) (RunState, error) {
	select {
	case <-p.exited:
	default:
		return RunState{Status: "running"}, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return RunState{
		Exited:   !p.stopping,
		ExitCode: p.exitCode,
		Status:   fmt.Sprintf("exited (%d)", p.exitCode),
	}, nil
}

func (p *processTarget) Stop(ctx context.Context) error {
	return p.stopOnce.do(func() error { return p.stop(ctx) })
}

func (p *processTarget) stop(ctx context.Context) error {
	p.mem.stop()
	defer p.ws.remove()

	select {
	case <-p.exited:
		p.mu.Lock()
		code := p.exitCode
		p.mu.Unlock()
		return fmt.Errorf("exporter had already exited with code %d", code)
	default:
	}

	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("SIGTERM: %w", err)
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("exporter did not exit after SIGTERM: %w; killed", ctx.Err())
	}
	p.mu.Lock()
	code := p.exitCode
	p.mu.Unlock()
	if code != 0 {
		return fmt.Errorf("exporter exited with code %d after SIGTERM", code)
	}
	return nil
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

// waitReady polls baseURL/readyz until it answers 200, the timeout passes, or gone closes.
func waitReady(ctx context.Context, baseURL, token string, timeout time.Duration, gone <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		last = probeReady(ctx, client, baseURL, token)
		if last == nil {
			return nil
		}
		select {
		case <-gone:
			return fmt.Errorf("exporter exited before it was ready (last check: %v)", last)
		case <-ctx.Done():
			return fmt.Errorf("exporter not ready within %v: %v", timeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Ready asks the exporter at baseURL once whether it is ready (GET /readyz answered 200 within a
// second): nil if so, else why not.
func Ready(ctx context.Context, baseURL, token string) error {
	return probeReady(ctx, &http.Client{Timeout: time.Second}, baseURL, token)
}

func probeReady(ctx context.Context, client *http.Client, baseURL, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/readyz", nil)
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
		return fmt.Errorf("GET /readyz: %s", resp.Status)
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
