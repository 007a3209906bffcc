package proxytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/internal/loopback"
)

// deployConf is the nginx configuration deploy/ ships, for nginx >= 1.27.2; its placeholders.
const (
	deployConf   = "../../deploy/nginx-1.27.conf"
	trailersLine = "proxy_pass_trailers on;"
	frontendAddr = "127.0.0.1:8080"
	replica1Addr = "127.0.0.1:8081"
	replica2Addr = "127.0.0.1:8082"
)

// nginxBinary is Debian's nginx; a missing one fails the test.
func nginxBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err == nil {
		return bin
	}
	if _, statErr := os.Stat("/usr/sbin/nginx"); statErr != nil {
		t.Fatalf("nginx is not installed (make tools-nginx installs Debian's): %v", err)
	}
	return "/usr/sbin/nginx"
}

// deploySite is deploy/nginx-1.27.conf as nginx 1.22 takes it: without proxy_pass_trailers, which
// it rejects, and so without the trailers, with the front end on listen and both replicas at
// upstream.
func deploySite(t *testing.T, listen, upstream string) (site string, conf []byte) {
	t.Helper()
	conf, err := os.ReadFile(deployConf)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, line := range strings.Split(string(conf), "\n") {
		if strings.TrimSpace(line) != trailersLine {
			lines = append(lines, line)
		}
	}
	site = strings.Join(lines, "\n")
	if n := strings.Count(string(conf), trailersLine); n != 1 {
		t.Fatalf("%s has %d lines %q, want 1", deployConf, n, trailersLine)
	}
	for _, p := range []string{frontendAddr, replica1Addr, replica2Addr} {
		if !strings.Contains(site, p) {
			t.Fatalf("%s no longer has the placeholder %s", deployConf, p)
		}
	}
	site = strings.NewReplacer("listen "+frontendAddr, "listen "+listen,
		"server "+replica1Addr, "server "+upstream, "server "+replica2Addr, "server "+upstream).Replace(site)
	return site, conf
}

// writeMain writes a main nginx.conf into dir that runs nginx in the foreground as one process,
// keeps every file it writes in dir, and includes site in its http block. It returns its path.
func writeMain(t *testing.T, dir, site string) string {
	t.Helper()
	sitePath := filepath.Join(dir, "site.conf")
	if err := os.WriteFile(sitePath, []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	main := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path %[1]s/client_body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	include %[2]s;
}
`, dir, sitePath)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// nginxArgs are the flags that keep nginx to dir and conf, its early errors included.
func nginxArgs(dir, conf string) []string {
	return []string{"-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log")}
}

// startNginx starts Debian's nginx as a host process on a free loopback port with the deployed
// configuration (deploySite), proxying to upstream (host:port), and returns its base URL. It is
// stopped when the test ends; its error log is shown if the test failed.
func startNginx(t *testing.T, upstream string) string {
	t.Helper()
	bin := nginxBinary(t)
	port, err := loopback.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	site, _ := deploySite(t, listen, upstream)
	var out bytes.Buffer
	cmd := exec.Command(bin, nginxArgs(dir, writeMain(t, dir, site))...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	errorLog := func() string {
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return fmt.Sprintf("nginx output:\n%s\nerror.log (last lines):\n%s", out.String(), lastLines(string(log), 30))
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Log(errorLog())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", listen, time.Second)
		if err == nil {
			c.Close()
			return "http://" + listen
		}
		select {
		case err := <-exited:
			t.Fatalf("nginx exited before it listened (%v):\n%s", err, errorLog())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s within 10s: %v", listen, err)
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestNginx127Config checks deploy/nginx-1.27.conf as far as this machine can: Debian's nginx 1.22
// refuses it for proxy_pass_trailers alone (the directive is nginx >= 1.27.2), and parses
// everything else in it (the other tests here run it). How nginx 1.27 behaves with it is not
// tested here.
func TestNginx127Config(t *testing.T) {
	bin := nginxBinary(t)
	site, conf := deploySite(t, frontendAddr, replica1Addr)
	for _, tt := range []struct {
		name, site string
		refused    string // what nginx -t must say; "" when it must pass
	}{
		{"as shipped", string(conf), `unknown directive "proxy_pass_trailers"`},
		{"without proxy_pass_trailers", site, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out, err := exec.Command(bin, append([]string{"-t"}, nginxArgs(dir, writeMain(t, dir, tt.site))...)...).CombinedOutput()
			switch {
			case tt.refused == "" && err != nil:
				t.Errorf("nginx -t: %v\n%s", err, out)
			case tt.refused != "" && (err == nil || !strings.Contains(string(out), tt.refused)):
				t.Errorf("nginx -t: %v\n%s\nwant it refused: %s", err, out, tt.refused)
			}
		})
	}
}

// TestNginxFraming pins down what a client behind nginx 1.22 still has: the upstream's trailers
// are gone from a whole export, but an upstream that resets its stream mid-body (as the exporter
// does when an export fails after its status line) still reaches the client as a body that does
// not end cleanly, never as a whole one. docs/deployment.md relies on both.
func TestNginxFraming(t *testing.T) {
	const part = "id,note\r\n1,first\r\n"
	upstream := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "Content-Digest, Export-Rows")
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		_, _ = w.Write([]byte(part))
		_ = http.NewResponseController(w).Flush()
		if r.URL.Path == "/reset" {
			panic(http.ErrAbortHandler)
		}
		w.Header().Set("Content-Digest", "sha-256=:AAAA:")
		w.Header().Set("Export-Rows", "1")
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = upstream.Serve(l) }()
	t.Cleanup(func() { _ = upstream.Close() })
	base := startNginx(t, l.Addr().String())

	for _, direct := range []bool{true, false} {
		url := base
		if direct {
			url = "http://" + l.Addr().String()
		}
		whole, trailer, err := get(url + "/whole")
		if err != nil || whole != part {
			t.Errorf("direct %v: whole body %q, %v", direct, whole, err)
		}
		if got := trailer.Get("Export-Rows"); (got == "1") != direct {
			t.Errorf("direct %v: Export-Rows trailer %q", direct, got)
		}
		cut, _, err := get(url + "/reset")
		t.Logf("direct %v: reset stream: %v", direct, err)
		if err == nil {
			t.Errorf("direct %v: a reset stream read as whole (%q)", direct, cut)
		}
	}
}

// get reads a body to its end and returns it with its trailers and the read's error.
func get(url string) (string, http.Header, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", nil, err
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = errors.New(resp.Status)
	}
	if err != nil {
		err = fmt.Errorf("%s: %w", url, err)
	}
	return b.String(), resp.Trailer, err
}
