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
	"text/template"
	"time"
)

// nginxConf is a front proxy as deploy/ describes it, less what nginx 1.22 rejects
// (proxy_pass_trailers): the whole API to one upstream, streamed both ways over HTTP/1.1
// keep-alive connections. Every path nginx writes is under Dir.
var nginxConf = template.Must(template.New("nginx.conf").Parse(`daemon off;
master_process off;
worker_processes 1;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log info;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path {{.Dir}}/client_body;
	proxy_temp_path {{.Dir}}/proxy;
	fastcgi_temp_path {{.Dir}}/fastcgi;
	uwsgi_temp_path {{.Dir}}/uwsgi;
	scgi_temp_path {{.Dir}}/scgi;
	upstream exporter {
		server {{.Upstream}} max_fails=3 fail_timeout=10s;
		keepalive 16;
	}
	server {
		listen {{.Listen}};
		client_max_body_size 0;
		location / {
			proxy_pass http://exporter;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host $host;
			proxy_buffering off;
			proxy_request_buffering off;
			proxy_read_timeout 120s;
			proxy_send_timeout 120s;
		}
	}
}
`))

// startNginx starts Debian's nginx as a host process on a free loopback port, proxying to
// upstream (host:port), and returns its base URL. It is stopped when the test ends. A missing
// nginx fails the test.
func startNginx(t *testing.T, upstream string) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, statErr := os.Stat("/usr/sbin/nginx"); statErr != nil {
			t.Fatalf("nginx is not installed (make tools-nginx installs Debian's): %v", err)
		}
		bin = "/usr/sbin/nginx"
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var conf bytes.Buffer
	if err := nginxConf.Execute(&conf, map[string]string{"Dir": dir, "Upstream": upstream, "Listen": listen}); err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, conf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx output:\n%s\nerror.log (last lines):\n%s", out.String(), lastLines(string(log), 30))
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
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited before it listened (%v):\n%s\n%s", err, out.String(), lastLines(string(log), 30))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s within 10s: %v", listen, err)
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestNginxFraming pins down what a client behind nginx 1.22 still has: the upstream's trailers
// are gone from a whole export, but an upstream that resets its stream mid-body (as the exporter
// does when an export fails after its status line) still reaches the client as a body that does
// not end cleanly, never as a whole one. deploy/README.md relies on both.
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
