package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/exportatscale/exportatscale/harness/profile"
	"github.com/exportatscale/exportatscale/internal/loopback"
	"github.com/exportatscale/exportatscale/internal/syncbuf"
)

// Service is how to run a third-party service as a process on loopback (a profile's service).
type Service struct {
	Name      string            // for logs and the evidence, e.g. "clickhouse"
	Command   []string          // argv; each element may hold {dir} (the run's temp directory) and {port} / {port2} (free loopback ports)
	Files     map[string]string // files to write into {dir} before start: relative path → content, same placeholders
	Env       map[string]string // extra environment, same placeholders
	Readiness string            // HTTP path on {port} that answers 200 when ready, e.g. /ping
	Install   []string          // Debian packages the command needs; StartService says clearly which are missing (it does not apt-get itself)
}

// validate reports the first thing s lacks or gets wrong.
func (s Service) validate() error {
	switch {
	case s.Name == "":
		return errors.New("no name")
	case len(s.Command) == 0 || s.Command[0] == "":
		return errors.New("no command")
	case !strings.HasPrefix(s.Readiness, "/"):
		return fmt.Errorf("readiness path %q: want /PATH", s.Readiness)
	}
	for _, name := range slices.Sorted(maps.Keys(s.Files)) {
		if !filepath.IsLocal(name) {
			return fmt.Errorf("file %q: want a relative path inside the service's directory", name)
		}
	}
	return nil
}

// serviceTarget is a profile's service running as a child process on 127.0.0.1:{port}, observed
// as the process target observes the exporter: memory from /proc, its output as its logs, and its
// exit. Restart kills it and starts it again in the same directory on the same ports.
type serviceTarget struct {
	endpoint
	sampled
	name    string
	argv    []string // placeholders filled in
	env     []string
	ready   string // the readiness URL
	timeout time.Duration
	logs    *syncbuf.Buffer
	log     io.Writer
	ws      workspace

	op       sync.Mutex // held by Restart and Stop: one at a time
	mu       sync.Mutex
	cur      *child // the running process, replaced by Restart
	restarts int    // Restart calls
	stopped  bool

	stopOnce stopOnce
}

// StartService runs s as a process on loopback and waits until GET {port}{Readiness} answers 200.
// {dir} is o.WorkDir, or a temporary directory Stop removes; {port} and {port2} are free loopback
// ports, kept across restarts. The service's environment is the caller's (less EXPORTER_*
// variables), then s.Env, then o.Env. Of Options it uses only WorkDir, Env, StartTimeout and Log.
//
// A Debian package that is missing is installed first when the harness runs as root with apt-get
// (s.Install); one that is still missing, or a missing command, fails with an error wrapping
// ErrTargetUnavailable that names the packages to install. The Target's Kind is process, its Token empty (the service
// authenticates as its profile says); it is a Sampler, Logger, Restarter and Relauncher.
func StartService(ctx context.Context, s Service, o Options) (_ Target, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("service %s: %w", s.Name, err)
		}
	}()
	if err := s.validate(); err != nil {
		return nil, err
	}
	ws, err := newWorkspaceAs(o, "service-"+s.Name+"-")
	if err != nil {
		return nil, err
	}
	defer ws.removeIfFailed(&err)
	fill, port, err := placeholders(ws.dir)
	if err != nil {
		return nil, err
	}
	argv := make([]string, len(s.Command))
	for i, a := range s.Command {
		argv[i] = fill.Replace(a)
	}
	bin, versions, err := lookService(ctx, argv[0], s.Install)
	if errors.Is(err, ErrTargetUnavailable) && installPackages(ctx, s.Install, o.Log) {
		bin, versions, err = lookService(ctx, argv[0], s.Install)
	}
	if err != nil {
		return nil, err
	}
	argv[0] = bin
	if err := writeFiles(ws.dir, s.Files, fill); err != nil {
		return nil, err
	}
	env := map[string]string{}
	for k, v := range s.Env {
		env[k] = fill.Replace(v)
	}
	maps.Copy(env, o.Env)
	base := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	t := &serviceTarget{
		endpoint: endpoint{info: Info{
			Kind:         KindProcess,
			BaseURL:      base,
			Note:         serviceNote(s, bin, versions),
			BinaryPath:   bin,
			MemoryMethod: methodProc,
		}},
		name: s.Name, argv: argv, env: processEnv(os.Environ(), env),
		ready: base + s.Readiness, timeout: o.startTimeout(),
		logs: &syncbuf.Buffer{}, log: o.logWriter(), ws: ws,
	}
	t.mem = newSampler(methodProc, t.readMemory, procPeakEvery)
	started := time.Now()
	if err := t.launch(ctx); err != nil {
		t.mem.stop()
		return nil, err
	}
	t.info.Startup = time.Since(started)
	fmt.Fprintf(t.log, "service %s: ready at %s after %v (%s)\n", s.Name, base, t.info.Startup.Round(time.Millisecond), t.info.Note)
	return t, nil
}

// placeholders returns the replacer filling {dir}, {port} and {port2} in, and {port}.
func placeholders(dir string) (*strings.Replacer, int, error) {
	var ports [2]int
	for i := range ports {
		p, err := loopback.FreePort()
		if err != nil {
			return nil, 0, err
		}
		ports[i] = p
	}
	if ports[0] == ports[1] {
		return nil, 0, fmt.Errorf("the kernel handed out port %d twice", ports[0])
	}
	return strings.NewReplacer("{dir}", dir, "{port}", strconv.Itoa(ports[0]), "{port2}", strconv.Itoa(ports[1])), ports[0], nil
}

// writeFiles writes each file into dir, its content's placeholders filled in. Only the owner may
// read them: a configuration can hold what others should not see.
func writeFiles(dir string, files map[string]string, fill *strings.Replacer) error {
	for _, name := range slices.Sorted(maps.Keys(files)) {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(fill.Replace(files[name])), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// launch starts the service's process and waits until it is ready; on failure the process is
// killed and the error carries the end of its output.
func (t *serviceTarget) launch(ctx context.Context) error {
	c, err := startChild(t.argv, t.ws.dir, t.env, t.logs)
	if err != nil {
		return fmt.Errorf("start %s: %w", t.argv[0], err)
	}
	t.mu.Lock()
	t.cur = c
	t.mu.Unlock()
	if err := waitOK(ctx, t.ready, "", t.timeout, c.exited); err != nil {
		c.kill()
		return fmt.Errorf("%w\n%s output:\n%s", err, t.name, tail(t.logs.Bytes(), 40))
	}
	return nil
}

func (t *serviceTarget) current() *child {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur
}

func (t *serviceTarget) readMemory(context.Context) (reading, error) {
	return readProcMemory(t.current().pid())
}

func (t *serviceTarget) Kind() Kind { return KindProcess }

// Logs is the service's stdout and stderr, of every process Restart started, in order.
func (t *serviceTarget) Logs(context.Context) ([]byte, error) { return t.logs.Bytes(), nil }

// Restarts reports the running process; the restarts Restart caused are ExpectedRestarts.
func (t *serviceTarget) Restarts(context.Context) (RunState, error) {
	rs := t.current().runState()
	t.mu.Lock()
	rs.ExpectedRestarts = t.restarts
	t.mu.Unlock()
	return rs, nil
}

// Restart kills the service (SIGKILL to its process group, as a crash would) and starts it again
// in the same directory on the same ports, then waits until it is ready: what it had made durable
// survives. Memory sampling goes on, from the new process; a sample taken while no process runs
// fails and counts as an error of its window.
func (t *serviceTarget) Restart(ctx context.Context) error {
	t.op.Lock()
	defer t.op.Unlock()
	t.mu.Lock()
	c, stopped := t.cur, t.stopped
	t.mu.Unlock()
	if stopped {
		return fmt.Errorf("service %s: restart after Stop", t.name)
	}
	c.kill()
	t.mu.Lock()
	t.restarts++
	t.mu.Unlock()
	fmt.Fprintf(t.logs, "--- harness: %s killed (SIGKILL) and restarted ---\n", t.name)
	t0 := time.Now()
	if err := t.launch(ctx); err != nil {
		return fmt.Errorf("service %s: restart: %w", t.name, err)
	}
	fmt.Fprintf(t.log, "service %s: restarted, ready again after %v\n", t.name, time.Since(t0).Round(time.Millisecond))
	return nil
}

// Stop sends SIGTERM to the service's process group, waits for it to exit (SIGKILL when ctx ends
// first) and removes the temporary directory.
func (t *serviceTarget) Stop(ctx context.Context) error {
	return t.stopOnce.do(func() error {
		t.op.Lock()
		defer t.op.Unlock()
		t.mem.stop()
		defer t.ws.remove()
		t.mu.Lock()
		c := t.cur
		t.stopped = true
		t.mu.Unlock()
		// A third-party server may wait out its queries and idle connections before it exits on
		// SIGTERM (ClickHouse: every keep-alive connection, and a SELECT whose client left runs
		// on): the run's end does not wait for that, and says so in the logs.
		grace, cancel := context.WithTimeout(ctx, serviceGrace)
		defer cancel()
		err := c.terminate(grace, t.name)
		if err != nil && grace.Err() != nil && ctx.Err() == nil {
			fmt.Fprintf(t.logs, "harness: %s did not exit within %s of SIGTERM; killed\n", t.name, serviceGrace)
			return nil
		}
		return err
	})
}

// sbinDirs are where Debian installs daemons (clickhouse-server, nginx), which an unprivileged
// user's PATH often lacks.
var sbinDirs = []string{"/usr/sbin", "/sbin", "/usr/local/sbin"}

// lookService finds a service's program and checks that its Debian packages are installed;
// versions are theirs (none without dpkg). Either missing is an error wrapping
// ErrTargetUnavailable that names the packages to install.
func lookService(ctx context.Context, program string, packages []string) (bin string, versions map[string]string, err error) {
	versions, missing := debianPackages(ctx, packages)
	bin, lookErr := lookCommand(program)
	if lookErr == nil && len(missing) == 0 {
		return bin, versions, nil
	}
	var why []string
	if lookErr != nil {
		why = append(why, lookErr.Error())
	}
	if len(missing) > 0 {
		why = append(why, "Debian packages not installed: "+strings.Join(missing, ", "))
	}
	install := missing
	if len(install) == 0 {
		install = packages
	}
	if len(install) > 0 {
		why = append(why, "install them with: apt-get install "+strings.Join(install, " "))
	}
	return "", nil, fmt.Errorf("%w: %s", ErrTargetUnavailable, strings.Join(why, "; "))
}

// installPackages installs the Debian packages a service needs when it can (as root, with
// apt-get), as the Makefile's tools targets do, and reports whether apt-get succeeded; what it
// printed goes to log. Without root or apt-get it does nothing: the service is then unavailable,
// and its error says what to install.
func installPackages(ctx context.Context, packages []string, log io.Writer) bool {
	if len(packages) == 0 || os.Geteuid() != 0 {
		return false
	}
	aptGet, err := exec.LookPath("apt-get")
	if err != nil {
		return false
	}
	if log == nil {
		log = io.Discard
	}
	fmt.Fprintf(log, "service: installing %s with apt-get\n", strings.Join(packages, " "))
	cmd := exec.CommandContext(ctx, aptGet, append([]string{"install", "-y", "--no-install-recommends"}, packages...)...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdout, cmd.Stderr = log, log
	return cmd.Run() == nil
}

// lookCommand finds the program name: a path as it is, else on PATH, else in sbinDirs.
func lookCommand(name string) (string, error) {
	if strings.Contains(name, "/") {
		path, err := filepath.Abs(name)
		if err == nil {
			_, err = os.Stat(path)
		}
		if err != nil {
			return "", fmt.Errorf("command %s: %w", name, err)
		}
		return path, nil
	}
	if path, err := exec.LookPath(name); err == nil {
		return filepath.Abs(path)
	}
	for _, dir := range sbinDirs {
		path := filepath.Join(dir, name)
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return path, nil
		}
	}
	return "", fmt.Errorf("command %s not found on PATH or in %s", name, strings.Join(sbinDirs, ", "))
}

// debianPackages asks dpkg which of pkgs are installed, and at which versions. Without dpkg-query
// (not Debian) it knows nothing: no versions, nothing missing, and the command's lookup decides.
func debianPackages(ctx context.Context, pkgs []string) (versions map[string]string, missing []string) {
	dpkg, err := exec.LookPath("dpkg-query")
	if len(pkgs) == 0 || err != nil {
		return nil, nil
	}
	// dpkg-query exits 1 when it knows some package not at all; the others are still listed.
	args := append([]string{"-W", "-f", "${Package}\t${db:Status-Status}\t${Version}\n", "--"}, pkgs...)
	out, _ := exec.CommandContext(ctx, dpkg, args...).Output()
	versions = map[string]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		if len(f) == 3 && f[1] == "installed" {
			versions[f[0]] = f[2]
		}
	}
	for _, p := range pkgs {
		if _, ok := versions[p]; !ok {
			missing = append(missing, p)
		}
	}
	return versions, missing
}

// serviceNote is Info.Note of a service: its name, its packages' versions and its program.
func serviceNote(s Service, bin string, versions map[string]string) string {
	var pkgs []string
	for _, p := range s.Install {
		if v, ok := versions[p]; ok {
			pkgs = append(pkgs, p+" "+v)
		}
	}
	note := "service " + s.Name
	if len(pkgs) > 0 {
		note += " (Debian " + strings.Join(pkgs, ", ") + ")"
	}
	return note + ": " + bin + " as a process on loopback"
}

// ServiceOf is the service a profile's process service describes, started with the limits l (those
// it declares, p.Limits(), or a run's own).
func ServiceOf(p *profile.Profile, l profile.Limits) Service {
	s := p.ServiceWith(l)
	return Service{Name: p.Name, Command: s.Command, Files: s.Files, Env: s.Env, Readiness: s.Readiness, Install: s.Install}
}

// serviceGrace is how long a service has to exit after SIGTERM before it is killed.
const serviceGrace = 15 * time.Second
