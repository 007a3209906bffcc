package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/harness/profile"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

// startService starts s and stops it when the test ends.
func startService(t *testing.T, s Service, o Options) *serviceTarget {
	t.Helper()
	if o.Log == nil {
		o.Log = testkit.LogWriter(t)
	}
	tg := testkit.Start(t, 2*time.Minute, time.Minute, func(ctx context.Context) (Target, error) { return StartService(ctx, s, o) })
	return tg.(*serviceTarget)
}

// stopRemoves stops tg and checks its directory is gone.
func stopRemoves(t *testing.T, tg *serviceTarget) {
	t.Helper()
	if err := tg.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := os.Stat(tg.ws.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the service's directory %s is still there after Stop: %v", tg.ws.dir, err)
	}
}

// The stand-in run as a service: placeholders filled in the command, the files and the
// environment; observed as a process; restarted on the same directory and port; its directory
// removed by Stop.
func TestServiceStandin(t *testing.T) {
	s := Service{
		Name:      "standin",
		Command:   []string{standin(t), "--listen=127.0.0.1:{port}", "--tokens-file={dir}/tokens.txt"},
		Files:     map[string]string{"tokens.txt": "tok-{port2} read,write\n", "data/.keep": ""},
		Env:       map[string]string{"EXPORTER_DATA_DIR": "{dir}/data"},
		Readiness: "/readyz",
	}
	tg := startService(t, s, Options{})
	dir := tg.ws.dir
	u, err := url.Parse(tg.BaseURL())
	if err != nil || u.Hostname() != "127.0.0.1" || u.Port() == "" {
		t.Fatalf("BaseURL = %q, want http://127.0.0.1:PORT", tg.BaseURL())
	}
	if info := tg.Info(); tg.Kind() != KindProcess || info.Kind != KindProcess || !strings.Contains(info.Note, "service standin") ||
		info.BinaryPath != s.Command[0] || info.Startup <= 0 || info.MemoryMethod != methodProc {
		t.Errorf("Kind %s, Info %+v", tg.Kind(), info)
	}
	if tokens, err := os.ReadFile(filepath.Join(dir, "tokens.txt")); err != nil || !regexp.MustCompile(`^tok-[0-9]+ read,write\n$`).Match(tokens) {
		t.Errorf("tokens.txt = %q, %v; want {port2} filled in", tokens, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "standin.txt")); err != nil {
		t.Errorf("the data directory from the environment was not used: %v", err)
	}
	logsContain(t, tg, "standin: stdout line")
	if err := tg.StartSampling(20 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if w, ok := tg.ResetPeak(); !ok || w.PeakBytes == 0 || w.Errors > 0 {
		t.Errorf("memory window = %+v, %v", w, ok)
	}

	if err := tg.Restart(context.Background()); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if code, _ := testkit.Do(t, http.MethodGet, tg.BaseURL()+"/healthz", "", "", ""); code != http.StatusOK {
		t.Errorf("healthz after Restart: %d", code)
	}
	if rs, _ := tg.Restarts(context.Background()); rs.Exited || rs.ExpectedRestarts != 1 || rs.RestartCount != 0 {
		t.Errorf("Restarts after Restart = %+v, want running, 1 expected restart", rs)
	}
	logsContain(t, tg, "killed (SIGKILL) and restarted")
	if w, ok := tg.ResetPeak(); !ok || w.Samples == 0 {
		t.Errorf("memory after Restart = %+v, %v", w, ok)
	}

	stopRemoves(t, tg)
	if rs, _ := tg.Restarts(context.Background()); rs.Exited || rs.ExitCode != 0 || rs.ExpectedRestarts != 1 {
		t.Errorf("after Stop: %+v, want an expected clean exit", rs)
	}
	if err := tg.Restart(context.Background()); err == nil {
		t.Error("Restart after Stop: want an error")
	}
}

// A service that exits while starting fails StartService quickly, with its output, and leaves no
// directory behind.
func TestServiceStartFailure(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	s := Service{Name: "broken", Command: []string{"sh", "-c", "echo boom from {dir}; exit 3"}, Readiness: "/ping"}
	_, err := StartService(context.Background(), s, Options{StartTimeout: 20 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "boom from "+tmp) {
		t.Errorf("StartService = %v", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left behind in TMPDIR: %v", left)
	}
}

// A command that is not installed is ErrTargetUnavailable, naming the packages to install, and
// leaves no directory behind.
func TestServiceMissing(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	s := Service{Name: "absent", Command: []string{"exportatscale-no-such-server"}, Readiness: "/", Install: []string{"exportatscale-no-such-package"}}
	_, err := StartService(context.Background(), s, Options{})
	if !errors.Is(err, ErrTargetUnavailable) || !strings.Contains(err.Error(), "apt-get install exportatscale-no-such-package") ||
		!strings.Contains(err.Error(), "exportatscale-no-such-server not found") {
		t.Errorf("StartService = %v", err)
	}
	for _, bad := range []Service{
		{Name: "x", Command: []string{"true"}, Readiness: "ping"},
		{Name: "x", Command: []string{"true"}, Readiness: "/", Files: map[string]string{"../escape": ""}},
		{Command: []string{"true"}, Readiness: "/"},
	} {
		if _, err := StartService(context.Background(), bad, Options{}); err == nil || errors.Is(err, ErrTargetUnavailable) {
			t.Errorf("StartService(%+v) = %v, want a plain error", bad, err)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left behind in TMPDIR: %v", left)
	}
}

// serviceOf is the profile's service as StartService takes it.

// chClient sends the requests of the ClickHouse profile to a running service, filling in their
// placeholders, with the profile's basic auth.
type chClient struct {
	t              *testing.T
	http           *http.Client
	base           string
	user, password string
}

// do sends r with vars filled in and returns the status, the headers and the body.
func (c chClient) do(r profile.Request, vars map[string]string) (int, http.Header, string) {
	c.t.Helper()
	var pairs []string
	for k, v := range vars {
		pairs = append(pairs, "{"+k+"}", v)
	}
	fill := strings.NewReplacer(pairs...)
	q := url.Values{}
	for k, v := range r.Query {
		q.Set(k, fill.Replace(v))
	}
	body, _ := r.Body.(string)
	u := c.base + fill.Replace(r.Path)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(r.Method, u, strings.NewReader(fill.Replace(body)))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range r.Headers {
		req.Header.Set(k, fill.Replace(v))
	}
	req.SetBasicAuth(c.user, c.password)
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", r.Method, r.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: body: %v", r.Method, r.Path, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// ClickHouse from Debian's clickhouse-server, run from profiles/clickhouse.yaml's service, answers
// that profile's requests: a table created, three records ingested, exported as CSV in the
// declared dialect, counted, kept across a SIGKILL restart, removed.
func TestServiceClickHouse(t *testing.T) {
	testkit.Require(t, testkit.ClickHouse)
	p, err := profile.Load("../../profiles/clickhouse.yaml")
	if err != nil {
		t.Fatal(err)
	}
	password := "pw-" + strings.ReplaceAll(t.Name(), "/", "-")
	tg := startService(t, ServiceOf(p, p.Limits()), Options{Env: map[string]string{p.Connection.Auth.PasswordEnv: password}})
	t.Logf("%s, ready after %v", tg.Info().Note, tg.Info().Startup)
	// A client of its own, whose idle connections it closes before Stop: ClickHouse waits for an
	// idle keep-alive connection to close (up to about 15 s) before it exits on SIGTERM.
	transport := &http.Transport{}
	ch := chClient{t: t, http: &http.Client{Transport: transport, Timeout: time.Minute}, base: tg.BaseURL(), user: "default", password: password}
	if code, _, body := ch.do(profile.Request{Method: http.MethodGet, Path: p.Service.Readiness}, nil); code != http.StatusOK || body != "Ok.\n" {
		t.Fatalf("%s: %d %q", p.Service.Readiness, code, body)
	}
	if err := tg.StartSampling(20 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	wrong := ch
	wrong.password = "wrong"
	if code, _, body := wrong.do(*p.Integrity.Request, map[string]string{"dataset": "x"}); code != http.StatusUnauthorized {
		t.Errorf("a wrong password: %d %s, want 401", code, body)
	}

	vars := seedThree(t, ch, p)
	want := "\"id\",\"s\",\"n\",\"d\",\"ts\",\"b\"\n" +
		"1,\"a, \"\"b\"\"\nc\",-5,12.3400,\"2026-01-02 07:04:05\",1\n" +
		"2,\"=SUM(A1)\",7,-0.5000,\"2026-01-02 07:04:05\",0\n" +
		"3,\"\",0,99999999999999.9999,\"2026-01-02 07:04:05\",1\n"
	export := func(when string) {
		t.Helper()
		vars["columns"], vars["after"], vars["limit"] = "s,n,d,ts,b", "0", "18446744073709551615"
		code, h, body := ch.do(p.Export.CSV.Request, vars)
		if code != http.StatusOK || body != want {
			t.Errorf("export %s: %d\n%s\nwant\n%s", when, code, body, want)
		}
		if ct := h.Get("Content-Type"); ct != "text/csv; charset=UTF-8; header=present" || h.Get("Content-Length") != "" {
			t.Errorf("export %s: headers %v, want CSV with a header and no Content-Length", when, h)
		}
		if code, _, body := ch.do(*p.Integrity.Request, vars); code != http.StatusOK || body != "3\n" {
			t.Errorf("count %s: %d %q", when, code, body)
		}
	}
	export("after ingest")
	vars["columns"], vars["after"], vars["limit"] = "b,s", "1", "1"
	if code, _, body := ch.do(p.Export.CSV.Request, vars); code != http.StatusOK || body != "\"id\",\"b\",\"s\"\n2,0,\"=SUM(A1)\"\n" {
		t.Errorf("export after 1, limit 1: %d %q", code, body)
	}
	if w, ok := tg.Peak(); !ok || w.PeakBytes == 0 || w.PeakFileBytes == 0 || w.Errors > 0 {
		t.Errorf("memory window = %+v, %v", w, ok)
	} else {
		t.Logf("memory: anonymous peak %d KiB, file peak %d KiB over %d samples", w.PeakBytes>>10, w.PeakFileBytes>>10, w.Samples)
	}
	logsContain(t, tg, "Ready for connections")

	cutShort(t, ch, p)

	if err := tg.Restart(context.Background()); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	export("after a SIGKILL and restart")
	if rs, _ := tg.Restarts(context.Background()); rs.Exited || rs.ExpectedRestarts != 1 {
		t.Errorf("Restarts = %+v", rs)
	}

	if code, _, body := ch.do(*p.Dataset.Remove, vars); code != http.StatusOK {
		t.Errorf("remove: %d %s", code, body)
	}
	if code, _, body := ch.do(*p.Dataset.Remove, vars); code != http.StatusNotFound {
		t.Errorf("remove again: %d %s, want 404", code, body)
	}
	transport.CloseIdleConnections()
	stopRemoves(t, tg)
}

// seedThree creates the table svc-test.1 with a column of each type through the profile's
// dataset requests, ingests three records through its batch request, and returns the
// placeholders' values so far.
func seedThree(t *testing.T, ch chClient, p *profile.Profile) map[string]string {
	t.Helper()
	cols := []string{"s " + p.Types.String.Name, "n " + p.Types.Int.Name, "d " + p.Types.Decimal.Name, "ts " + p.Types.Timestamp.Name, "b " + p.Types.Bool.Name}
	for i, c := range cols {
		name, typ, _ := strings.Cut(c, " ")
		cols[i] = strings.NewReplacer("{name}", name, "{type}", typ).Replace(p.Dataset.Column.(string))
	}
	vars := map[string]string{"dataset": "svc-test.1", "columns": strings.Join(cols, ", ")}
	if code, _, body := ch.do(p.Dataset.Create, vars); code != http.StatusOK {
		t.Fatalf("create: %d %s", code, body)
	}
	vars["records"] = `{"id":1,"s":"a, \"b\"\nc","n":-5,"d":12.34,"ts":"2026-01-02T08:04:05.123456789+01:00","b":true}
{"id":2,"s":"=SUM(A1)","n":7,"d":-0.5,"ts":"2026-01-02T07:04:05Z","b":false}
{"id":3,"s":"","n":0,"d":99999999999999.9999,"ts":"2026-01-02T03:34:05-03:30","b":1}
`
	if code, _, body := ch.do(p.Ingest.Batch.Request, vars); code != http.StatusOK {
		t.Fatalf("ingest: %d %s", code, body)
	}
	return vars
}

// cutShort checks the profile's exporter user is the broken deployment its users.xml promises: an
// export of 20000 rows stops short with a 200 and nothing to say so, while the count request
// still answers 20000.
func cutShort(t *testing.T, ch chClient, p *profile.Profile) {
	t.Helper()
	var records strings.Builder
	for id := 1; id <= 20000; id++ {
		fmt.Fprintf(&records, "{\"id\":%d,\"s\":\"row %d\"}\n", id, id)
	}
	vars := map[string]string{"dataset": "svc-cut", "columns": "s String", "records": records.String()}
	if code, _, body := ch.do(p.Dataset.Create, vars); code != http.StatusOK {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, _, body := ch.do(p.Ingest.Batch.Request, vars); code != http.StatusOK {
		t.Fatalf("ingest: %d %s", code, body)
	}
	vars["columns"], vars["after"], vars["limit"] = "s", "0", "18446744073709551615"
	exporter := ch
	exporter.user = "exporter"
	code, _, body := exporter.do(p.Export.CSV.Request, vars)
	rows := strings.Count(body, "\n") - 1
	if code != http.StatusOK || rows < 5000 || rows >= 20000 || strings.Contains(body, "Exception") {
		t.Errorf("export as exporter: %d, %d rows, want 200 and 5000 to 19999 rows, no error text", code, rows)
	}
	if _, _, body := exporter.do(*p.Integrity.Request, vars); body != "20000\n" {
		t.Errorf("count as exporter: %q, want 20000", body)
	}
	t.Logf("the exporter user's export stopped after %d of 20000 rows", rows)
	if code, _, body := ch.do(*p.Dataset.Remove, vars); code != http.StatusOK {
		t.Errorf("remove: %d %s", code, body)
	}
}
