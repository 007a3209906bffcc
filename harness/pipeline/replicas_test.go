package pipeline

import (
	"context"
	"strconv"
	"testing"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/metrics"
	"github.com/exportatscale/exportatscale/harness/target"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

// replicated is a deployment of two replicas as far as the shares need one: names and URLs.
type replicated struct{ target.Target }

func (replicated) Replicas() []target.Replica {
	return []target.Replica{{Name: "replica-1", URL: "http://127.0.0.1:1"}, {Name: "replica-2", URL: "http://127.0.0.1:2"}}
}
func (replicated) KillReplica(context.Context, int) error               { return nil }
func (replicated) ProxyState(context.Context, int) (bool, int64, error) { return true, 0, nil }
func (replicated) ReplicaRestarts(context.Context, int) (int, error)    { return 0, nil }
func (replicated) Info() target.Info {
	return target.Info{Proxy: "HAProxy 2.6", Database: "PostgreSQL 15"}
}

func exportsScrape(t *testing.T, ok, refused float64) metrics.Snapshot {
	t.Helper()
	s, err := metrics.Parse([]byte("# TYPE exporter_exports_total counter\n" +
		`exporter_exports_total{format="csv",outcome="ok"} ` + fmtFloat(ok) + "\n" +
		`exporter_exports_total{format="csv",outcome="client_error"} ` + fmtFloat(refused) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// A replica that served no export makes A3 fail, naming how many; one that served some shows its
// share, also in the topology.
func TestShares(t *testing.T) {
	th := testkit.Thresholds(t)
	for _, tt := range []struct {
		name      string
		second    float64 // exports of replica-2 during the run
		wantState evidence.Status
	}{{"both served", 5, evidence.StatusPassed}, {"one idle", 0, evidence.StatusFailed}} {
		t.Run(tt.name, func(t *testing.T) {
			r := &Run{cfg: Config{Target: replicated{}, Thresholds: th}, afterTaken: true,
				replicasBefore: replicaScrapes{exportsScrape(t, 1, 0), exportsScrape(t, 2, 0)},
				replicasAfter:  replicaScrapes{exportsScrape(t, 8, 1), exportsScrape(t, 2+tt.second, 0)}}
			b := &builder{th: th}
			b.shares(r.shares())
			c := b.check()
			if c.Status != tt.wantState {
				t.Errorf("A3 = %s (%v), want %s", c.Status, c.Failures, tt.wantState)
			}
			topo := r.Topology()
			if len(topo.Replicas) != 2 || topo.Replicas[0].Exports != 8 || topo.Replicas[1].Exports != int(tt.second) || topo.Proxy != "HAProxy 2.6" {
				t.Errorf("Topology = %+v", topo)
			}
		})
	}
}
