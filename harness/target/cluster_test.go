package target

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"

	"github.com/exportatscale/exportatscale/internal/pgtmp"
)

// requireCluster fails the test unless this machine can run a cluster: a container engine,
// HAProxy and a PostgreSQL server. EXPORTATSCALE_SKIP_MISSING=1 (testkit.SkipMissing) skips it, as it does every container
// test.
func requireCluster(t *testing.T) {
	t.Helper()
	requireEngine(t)
	if _, err := haproxyVersion(context.Background()); err != nil {
		t.Fatalf("the cluster test needs HAProxy: %v (make tools-haproxy installs it)", err)
	}
	if _, err := pgtmp.BinDir(); err != nil {
		t.Fatalf("the cluster test needs a PostgreSQL server: %v", err)
	}
}

// A two-replica cluster: the proxy spreads requests over both, takes a killed replica out of
// rotation within seconds, the engine restarts it, and it comes back; Stop leaves nothing.
func TestClusterTarget(t *testing.T) {
	requireCluster(t)
	tg := startTarget(t, Options{Kind: KindCluster, RequireKind: true, BinaryPath: exporterBinary(t)})
	ct := tg.(*clusterTarget)
	info := tg.Info()
	t.Logf("cluster: %s; proxy %s; database %s; image %s; startup %v", info.Note, info.Proxy, info.Database, info.ImageID, info.Startup)
	if tg.Kind() != KindCluster || !strings.HasPrefix(tg.BaseURL(), "http://127.0.0.1:") || len(info.Replicas) != 2 ||
		!strings.HasPrefix(info.Proxy, "HAProxy 2.") || !strings.HasPrefix(info.Database, "PostgreSQL ") {
		t.Fatalf("Info = %+v", info)
	}
	rep := tg.(Replicated)
	g := gomega.NewWithT(t)

	By := func(s string) { t.Log(s) }
	By("requests through the proxy reach both replicas")
	for range 10 {
		if code, _ := get(t, tg, "/metrics", true); code != http.StatusOK {
			t.Fatalf("GET /metrics through the proxy: %d", code)
		}
	}
	for i, r := range rep.Replicas() {
		up, n, err := rep.ProxyState(context.Background(), i)
		if err != nil || !up || n < 4 {
			t.Errorf("%s: ProxyState = %v, %d requests, %v; want UP with about 5 of the 10", r.Name, up, n, err)
		}
	}
	snaps, err := tg.(MetricsSource).ScrapeMetrics(context.Background())
	if err != nil || len(snaps) != 2 {
		t.Fatalf("ScrapeMetrics = %d snapshots, %v", len(snaps), err)
	}

	By("a killed replica leaves the rotation within seconds, is restarted after the restart delay, and comes back UP")
	if err := capability[Sampler](t, tg).StartSampling(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if err := rep.KillReplica(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	// It stays dead for the restart delay (3 s), longer than the proxy needs to see it fail two
	// checks 500 ms apart: it must be seen DOWN, then restarted once and UP again.
	sawDown := false
	g.Eventually(func() (int, error) {
		if up, _, err := rep.ProxyState(context.Background(), 1); err == nil && !up {
			sawDown = true
		}
		return rep.ReplicaRestarts(context.Background(), 1)
	}).WithTimeout(20*time.Second).WithPolling(50*time.Millisecond).Should(gomega.Equal(1), "restart count of replica-2")
	g.Eventually(func() (bool, error) {
		up, _, err := rep.ProxyState(context.Background(), 1)
		if err == nil && !up {
			sawDown = true
		}
		return up, err
	}).WithTimeout(20*time.Second).WithPolling(50*time.Millisecond).Should(gomega.BeTrue(), "replica-2 UP again")
	t.Logf("replica-2 back UP %v after the kill (seen DOWN in between: %v)", time.Since(killed).Round(10*time.Millisecond), sawDown)
	if !sawDown {
		t.Error("the proxy never took the dead replica out of rotation")
	}
	rs, err := capability[Restarter](t, tg).Restarts(context.Background())
	if err != nil || rs.RestartCount != 0 || rs.ExpectedRestarts != 1 || rs.Exited {
		t.Errorf("Restarts after KillReplica = %+v, %v; want 0 unexpected, 1 expected", rs, err)
	}
	if w, ok := capability[Sampler](t, tg).ResetPeak(); !ok || w.PeakBytes == 0 {
		t.Errorf("memory window = %+v, %v", w, ok)
	}
	logsContain(t, tg, "==> replica-2")

	By("Stop removes the replicas, the proxy and the database")
	if err := tg.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for _, r := range ct.replicas {
		if _, err := r.ctr.Inspect(context.Background()); err == nil {
			t.Errorf("%s: container still exists after Stop", r.Name)
		}
	}
	if ct.proxy.ProcessState == nil {
		t.Error("haproxy still running after Stop")
	}
	if _, err := os.Stat(ct.db.Dir); err == nil {
		t.Errorf("PostgreSQL directory %s left behind", ct.db.Dir)
	}
	if out, _ := exec.Command("pgrep", "-f", ct.db.Dir).Output(); len(out) > 0 {
		t.Errorf("PostgreSQL processes left: %s", out)
	}
	if _, err := ct.provider.Client().ImageInspect(context.Background(), ct.built); err == nil {
		t.Errorf("image %s left behind", ct.built)
	}
}

// Without health checks the proxy keeps routing to a replica that is down: the broken deployment
// the self-tests need. With checks (the test above) a down replica leaves the rotation.
func TestClusterHealthChecks(t *testing.T) {
	requireCluster(t)
	for _, tt := range []struct {
		name   string
		checks bool
	}{{"with checks", true}, {"without checks", false}} {
		t.Run(tt.name, func(t *testing.T) {
			tg := startTarget(t, Options{Kind: KindCluster, RequireKind: true, BinaryPath: exporterBinary(t),
				Cluster: ClusterOptions{NoProxyHealthChecks: !tt.checks, RestartPolicy: "no"}})
			rep := tg.(Replicated)
			if err := rep.KillReplica(context.Background(), 0); err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			var up bool
			for time.Since(t0) < 5*time.Second {
				var err error
				if up, _, err = rep.ProxyState(context.Background(), 0); err != nil {
					t.Fatal(err)
				}
				if !up {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if up == tt.checks {
				t.Fatalf("replica-1 killed, never restarted: routed to after %v: %v, want %v", time.Since(t0), up, !tt.checks)
			}
			t.Logf("replica-1 routed to: %v, %v after the kill", up, time.Since(t0).Round(10*time.Millisecond))
			if rs, err := capability[Restarter](t, tg).Restarts(context.Background()); err != nil || !rs.Exited {
				t.Errorf("Restarts = %+v, %v: a replica that stays down must show", rs, err)
			}
			if err := tg.Stop(context.Background()); err == nil {
				t.Error("Stop: nil, want the replica's death reported")
			}
		})
	}
}
