package pipeline

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/memory"
	"github.com/exportatscale/exportatscale/harness/metrics"
	"github.com/exportatscale/exportatscale/harness/target"
)

// A deployment of replicas behind a proxy (a target.MetricsSource) is measured replica by
// replica where one request through the proxy would reach just one of them: its metrics are
// scraped from every replica and summed (A6 reconciles the sums), each replica's share of the
// exports is taken from its own scrapes (A3 fails when one got none), and the cross-check of A4
// reads every replica's process_resident_memory_bytes.

// sharedGauges are the gauges every replica reads from the store the replicas share: summing
// them would count the one store once per replica (metrics.Sum).
var sharedGauges = []string{"exporter_store_records"}

// replicaScrapes are one scrape of every replica, in the order of the target's replicas.
type replicaScrapes []metrics.Snapshot

// scrape scrapes the target's metrics once: through BaseURL, or for a deployment of replicas
// every replica's, summed, each kept as an artifact (metrics-<phase>-<replica>.txt).
func (r *Run) scrape(ctx context.Context, phase string) (metrics.Snapshot, replicaScrapes, error) {
	if !r.caps.API().Metrics {
		return metrics.Snapshot{}, nil, nil // nothing to scrape: A6 does not apply
	}
	src, ok := r.cfg.Target.(target.MetricsSource)
	if !ok {
		s, err := r.scrapeAPI(ctx)
		return s, nil, err
	}
	snaps, err := src.ScrapeMetrics(ctx)
	if err != nil {
		return metrics.Snapshot{}, nil, err
	}
	for i, s := range snaps {
		r.artifacts[fmt.Sprintf("metrics-%s-%s.txt", phase, r.replicaName(i))] = s.Raw
	}
	sum, err := metrics.Sum(snaps, sharedGauges...)
	if err != nil {
		return metrics.Snapshot{}, nil, fmt.Errorf("summing the replicas' metrics: %w", err)
	}
	return sum, snaps, nil
}

// scrapeAPI scrapes the API's metrics at its profile's path, with its credentials, each series
// the profile maps under the name of the role it plays (exporter_<role>, as the v1 API names it),
// so the reconciliations read any service's series alike.
func (r *Run) scrapeAPI(ctx context.Context) (metrics.Snapshot, error) {
	m := r.cfg.Profile.Metrics
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.api.Base()+m.Path, nil)
	if err != nil {
		return metrics.Snapshot{}, err
	}
	r.api.Authorize(req)
	s, err := metrics.Fetch(r.http, req)
	if err != nil {
		return s, err
	}
	names := map[string]string{}
	for role, name := range m.Series {
		names[name] = "exporter_" + role
	}
	return s.Renamed(names), nil
}

// scrapeIdle polls the metrics until no export is in flight anywhere and returns that scrape.
func (r *Run) scrapeIdle(ctx context.Context) (metrics.Snapshot, replicaScrapes, error) {
	if !r.caps.API().Metrics {
		return metrics.Snapshot{}, nil, nil
	}
	for {
		s, per, err := r.scrape(ctx, "after")
		if err == nil {
			if v, _ := s.Samples.Sum("exporter_exports_in_flight"); v == 0 {
				return s, per, nil
			}
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("exports still in flight: %w", ctx.Err())
			}
			return s, per, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// replicaName is the name of the target's replica i.
func (r *Run) replicaName(i int) string {
	if rep, ok := r.cfg.Target.(target.Replicated); ok && i < len(rep.Replicas()) {
		return rep.Replicas()[i].Name
	}
	return fmt.Sprintf("replica-%d", i+1)
}

// resident samples process_resident_memory_bytes during Load: through BaseURL, or every
// replica's own, the highest of them (A4's budget is per exporter).
func (r *Run) resident(ctx context.Context, hc *http.Client, interval time.Duration) func() float64 {
	rep, ok := r.cfg.Target.(target.Replicated)
	if !r.caps.API().Metrics {
		return func() float64 { return 0 }
	}
	if !ok {
		return memory.Resident(ctx, hc, r.api.Base(), r.cfg.Target.Token(), interval)
	}
	var stops []func() float64
	for _, x := range rep.Replicas() {
		stops = append(stops, memory.Resident(ctx, hc, x.URL, r.cfg.Target.Token(), interval))
	}
	return func() float64 {
		peak := 0.0
		for _, stop := range stops {
			peak = max(peak, stop())
		}
		return peak
	}
}

// shares are each replica's exports between the run's two scrapes (exporter_exports_total, every
// outcome), nil for a target that is not a deployment of replicas or before both scrapes.
func (r *Run) shares() []evidence.ReplicaShare {
	rep, ok := r.cfg.Target.(target.Replicated)
	if !ok || !r.afterTaken || len(r.replicasBefore) == 0 {
		return nil
	}
	var out []evidence.ReplicaShare
	for i, x := range rep.Replicas() {
		s := evidence.ReplicaShare{Name: x.Name, URL: x.URL, Exports: -1}
		if i < len(r.replicasBefore) && i < len(r.replicasAfter) {
			before, _ := r.replicasBefore[i].Samples.Sum("exporter_exports_total")
			after, _ := r.replicasAfter[i].Samples.Sum("exporter_exports_total")
			s.Exports = int(after - before)
		}
		out = append(out, s)
	}
	return out
}

// shares adds to A3, for a deployment of replicas, each replica's share of the exports and the
// number of replicas that served none, judged by a3.replicas_without_exports: a replica the proxy
// never routes to leaves the deployment at a fraction of its capacity, and is as much a failure
// of the load test as a failed export. A3 and not A6, because A6 judges whether the metrics tell
// the truth, and here they do: they tell that one replica did nothing. Nil shares add nothing.
func (b *builder) shares(shares []evidence.ReplicaShare) {
	if shares == nil {
		return
	}
	idle := 0
	for _, s := range shares {
		if s.Exports <= 0 {
			idle++
		}
		b.info("a3.replica_exports."+s.Name, float64(s.Exports), "exports")
	}
	b.measure("a3.replicas_without_exports", float64(idle), "replicas")
	if idle > 0 {
		b.fail("%d of %d replicas served no export: the proxy does not spread the load", idle, len(shares))
	}
}

// Topology is the deployment of replicas the run measured, for the evidence's Environment: the
// target's proxy, database and replicas with each one's share of the exports (-1 before the
// run's last scrape). Nil for a target that is not a deployment of replicas.
func (r *Run) Topology() *evidence.Topology {
	rep, ok := r.cfg.Target.(target.Replicated)
	if !ok {
		return nil
	}
	info := r.cfg.Target.Info()
	t := &evidence.Topology{Proxy: info.Proxy, Database: info.Database, Replicas: r.shares()}
	if t.Replicas == nil {
		for _, x := range rep.Replicas() {
			t.Replicas = append(t.Replicas, evidence.ReplicaShare{Name: x.Name, URL: x.URL, Exports: -1})
		}
	}
	return t
}
