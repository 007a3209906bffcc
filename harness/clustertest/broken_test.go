// Package clustertest proves the fault checks of a deployment (F1 replica killed, F2 database
// restart) on real deployments of the cluster target: a healthy one passes both, and each broken
// one is RED on the check, and the measure, that names what is broken.
package clustertest

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/pipeline"
	"github.com/exportatscale/exportatscale/harness/profile"
	"github.com/exportatscale/exportatscale/harness/target"
	"github.com/exportatscale/exportatscale/internal/contract"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// clusterLimits are the v1 profile's limits, but with the exporter's own write timeout, and no rate
// limit: the faults' ingest and exports come in bursts the suite's rate limit would refuse.
func clusterLimits() *profile.Limits {
	return testkit.V1Limits(func(l *profile.Limits) { l.Rate, l.CutAfter = 0, contract.Defaults().WriteTimeout })
}

// deployment starts a 2-replica cluster and returns the fault checks its pipeline gives, after
// seeding at small sizes.
func deployment(t *testing.T, cluster target.ClusterOptions, tags string, env map[string]string) map[string]evidence.Check {
	t.Helper()
	testkit.Require(t, testkit.Docker, testkit.PostgreSQL, testkit.HAProxy)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	tg, err := target.Start(ctx, target.Options{Kind: target.KindCluster, RequireKind: true, Cluster: cluster,
		BinaryPath: testkit.Binary(t, testkit.ExporterPkg, strings.Fields(tags)...), WorkDir: t.TempDir(),
		Env: withEnv(testkit.V1Env(clusterLimits()), env)})
	if err != nil {
		t.Fatal(err)
	}
	testkit.StopAtCleanup(t, time.Minute, tg.Stop)
	th := testkit.Thresholds(t)
	run, err := pipeline.New(pipeline.Config{Target: tg, Thresholds: th, Suffix: "clustertest", Seed: 7,
		Sizes:  contract.Sizes{SmokeRows: 100, SmokeSingle: 10, LoadRows: 1000, LargeRows: 2000, BulkRows: 3000, HeldRows: 3000},
		Limits: clusterLimits(), FaultWait: 20 * time.Second, Narrate: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	if c := run.Some(ctx, "seed")[0]; c.Status != evidence.StatusPassed {
		t.Fatalf("seed: %s %v", c.Status, c.Failures)
	}
	checks := map[string]evidence.Check{}
	for _, c := range run.Some(ctx, "F1", "F2") {
		checks[c.ID] = c
		t.Logf("%s %s: %s", c.ID, c.Title, describe(c))
	}
	return checks
}

func describe(c evidence.Check) string {
	parts := []string{string(c.Status)}
	for _, m := range c.Measures {
		mark := ""
		if !m.Pass {
			mark = " FAIL"
		}
		parts = append(parts, fmt.Sprintf("%s=%g%s", m.Name, m.Value, mark))
	}
	return strings.Join(parts, ", ") + "; " + strings.Join(c.Failures, "; ")
}

// requireRed requires check id failed with the measure named failing among its measures.
func requireRed(t *testing.T, checks map[string]evidence.Check, id, measure string) {
	t.Helper()
	c := checks[id]
	if c.Status != evidence.StatusFailed {
		t.Fatalf("%s is %s, want failed: %s", id, c.Status, describe(c))
	}
	for _, m := range c.Measures {
		if m.Name == measure {
			if m.Pass {
				t.Errorf("%s failed, but not on %s (= %g passes): %s", id, measure, m.Value, describe(c))
			}
			return
		}
	}
	t.Errorf("%s has no measure %s: %s", id, measure, describe(c))
}

func requirePassed(t *testing.T, checks map[string]evidence.Check, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if c := checks[id]; c.Status != evidence.StatusPassed {
			t.Errorf("%s is %s, want passed: %s", id, c.Status, describe(c))
		}
	}
}

// The supported deployment passes both faults at these sizes: what the broken ones fail is not
// an effect of the sizes.
func TestHealthyDeployment(t *testing.T) {
	requirePassed(t, deployment(t, target.ClusterOptions{}, "", nil), "F1", "F2")
}

// A proxy without health checks keeps routing to the dead replica: F1, out of rotation.
func TestProxyWithoutHealthChecks(t *testing.T) {
	checks := deployment(t, target.ClusterOptions{NoProxyHealthChecks: true}, "", nil)
	requireRed(t, checks, "F1", "f1.seconds_out_of_rotation")
	requirePassed(t, checks, "F2")
}

// A replica that is never restarted stays out: F1, back.
func TestReplicaNeverRestarted(t *testing.T) {
	checks := deployment(t, target.ClusterOptions{RestartPolicy: "no"}, "", nil)
	requireRed(t, checks, "F1", "f1.seconds_until_back")
	requirePassed(t, checks, "F2")
}

// An exporter that acknowledges an ingest before it commits loses records on a database restart:
// F2, lost acknowledged records. (The fault is compiled in only with -tags exporterfaults.)
func TestAckBeforeCommit(t *testing.T) {
	checks := deployment(t, target.ClusterOptions{}, "exporterfaults", map[string]string{"EXPORTER_FAULT_ACK_BEFORE_COMMIT": "1"})
	requireRed(t, checks, "F2", "f2.lost_acknowledged_records")
}

// withEnv is env with more set on top.
func withEnv(env, more map[string]string) map[string]string {
	maps.Copy(env, more)
	return env
}
