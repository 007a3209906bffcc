package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/target"
)

// holdBytes is what each held export reads before the kill.
const holdBytes = 64 << 10

// replicaKill is what F1 measured.
type replicaKill struct {
	Replicas           int
	Held               int     // exports held open through the proxy
	VictimInFlight     float64 // CSV exports in flight on the victim when it was killed
	Cut, Whole         int     // held exports that ended incomplete, and whole and right
	Wrong              int     // held exports that arrived whole but wrong
	ResumedInexact     int     // cut exports that, resumed, differ from the export in one piece
	FailedAfterKill    int     // exports started right after the kill that failed
	OutOfRotation      time.Duration
	NeverOutOfRotation bool
	SentToDead         int64 // requests the proxy sent to the dead replica
	Back               time.Duration
	NeverBack          bool
	ServedAfterBack    float64 // exports the victim served once back
	// Findings are defects seen along the way, each a failure line.
	Findings []string
}

func (k *replicaKill) find(format string, args ...any) {
	k.Findings = append(k.Findings, fmt.Sprintf(format, args...))
}

// measureReplicaKilled holds CSV exports of the bulk set open through the proxy, SIGKILLs the
// replica serving most of them, reads every held export to its end, resumes the cut ones with
// after=<last whole id>, and follows the proxy and the replica until it is back and serving.
func measureReplicaKilled(ctx context.Context, r *Run) (replicaKill, error) {
	rep := r.cfg.Target.(target.Replicated)
	src := r.cfg.Target.(target.MetricsSource)
	bulk, ld := r.datasets["bulk"], r.datasets["load"]
	if bulk == nil || ld == nil {
		return replicaKill{}, missing("the bulk and load sets")
	}
	k := replicaKill{Replicas: len(rep.Replicas())}
	if k.Replicas < 2 {
		return k, fmt.Errorf("%d replica: killing one leaves none to serve", k.Replicas)
	}
	held, err := export.NewExpected(bulk.name, bulk.schema, bulk.records, export.Options{Limit: r.cfg.HeldRows})
	if err != nil {
		return k, err
	}
	pending := r.holdExports(ctx, held, 3*k.Replicas, &k)
	k.Held = len(pending)
	snaps, err := src.ScrapeMetrics(ctx)
	if err != nil {
		return k, fmt.Errorf("scraping the replicas before the kill: %w", err)
	}
	victim := 0
	for i, s := range snaps {
		if v, _ := s.Samples.Get("exporter_exports_in_flight", "format", "csv"); v > k.VictimInFlight {
			victim, k.VictimInFlight = i, v
		}
	}
	name := r.replicaName(victim)
	restartsBefore, err := rep.ReplicaRestarts(ctx, victim)
	if err != nil {
		return k, err
	}
	_, sentBefore, _ := rep.ProxyState(ctx, victim)

	r.say(fmt.Sprintf("F1: SIGKILL %s with %.0f exports in flight", name, k.VictimInFlight))
	killed := time.Now()
	if err := rep.KillReplica(ctx, victim); err != nil {
		return k, err
	}
	// The proxy's view of the victim, polled until it is back (or the wait is over).
	watch := watchReplica(ctx, rep, victim, killed, r.cfg.FaultWait, r.cfg.Target.Token())

	// Exports started right after the kill, all at once: a proxy that still routes to the dead
	// replica fails some of them. As many as the survivors can take beside the held ones.
	for _, res := range r.exportMany(ctx, ld.full, 4*(k.Replicas-1)) {
		if f := res.Failure(); f != "" {
			k.FailedAfterKill++
			k.find("an export started right after the kill failed: %s%s", f, describeFetch(res.Fetch))
		}
	}
	cut := k.readHeld(pending)
	if k.VictimInFlight < 1 {
		k.find("no export was in flight on %s when it was killed: nothing was cut, so nothing could be judged", name)
	}
	if n := k.countedOK(); n > 0 {
		k.find("%s was serving %.0f exports when it died, but only %d ended incomplete: %d cut export(s) passed as whole", name, k.VictimInFlight, k.Cut, n)
	}
	r.resumeAll(ctx, bulk, held, cut, &k)

	st := watch.wait()
	k.OutOfRotation, k.NeverOutOfRotation = st.outOfRotation, st.outOfRotation == 0
	if k.NeverOutOfRotation {
		k.OutOfRotation = st.watched
		k.find("the proxy never took %s out of rotation while it was dead (for %.1f s): it kept routing to a dead replica", name, st.watched.Seconds())
	}
	k.Back, k.NeverBack = st.back, st.back == 0
	if k.NeverBack {
		k.Back = st.watched
		k.find("%s was not back within %v of the kill (restarted, ready, routed to)", name, r.cfg.FaultWait)
	}
	k.SentToDead = max(0, st.sentWhileDead-sentBefore)
	if restarts, _ := rep.ReplicaRestarts(ctx, victim); !k.NeverBack && restarts <= restartsBefore {
		k.find("%s answers again but was never restarted", name)
	}
	if !k.NeverBack {
		r.servedAfterBack(ctx, src, victim, name, ld, &k)
	}
	return k, nil
}

// countedOK is how many exports the victim was serving that did not end incomplete.
func (k *replicaKill) countedOK() int { return max(0, int(k.VictimInFlight)-k.Cut) }

// holdExports opens n exports of held through the proxy, each read holdBytes into.
func (r *Run) holdExports(ctx context.Context, held *export.Expected, n int, k *replicaKill) []*export.Pending {
	r.say(fmt.Sprintf("F1: holding %d CSV exports open through the proxy", n))
	stall := r.client(r.stall)
	pending := make([]*export.Pending, n)
	for i := range pending {
		pending[i] = stall.Open(ctx, export.CSV, held)
		if !pending[i].Fetch().Started() {
			k.find("held export %d did not start%s", i+1, describeFetch(pending[i].Fetch()))
			continue
		}
		if _, err := pending[i].ReadSome(holdBytes); err != nil {
			k.find("held export %d: %v", i+1, err)
		}
	}
	return pending
}

// readHeld reads the held exports to their ends and returns the cut ones.
func (k *replicaKill) readHeld(pending []*export.Pending) []*export.Received {
	var cut []*export.Received
	for _, p := range pending {
		rec := p.Receive()
		res := rec.CSV()
		switch f := res.Failure(); {
		case f == "":
			k.Whole++
		case res.Missing+res.Duplicates+res.Unexpected+res.OutOfOrder+res.Mismatched+res.GuardViolations > 0 && rec.Complete:
			k.Wrong++
			k.find("a held export arrived whole but wrong: %s%s", f, describeFetch(res.Fetch))
		default:
			cut = append(cut, rec)
		}
	}
	k.Cut = len(cut)
	return cut
}

// resumeAll resumes each cut export after its last whole record: put together, it must be
// exactly the export in one piece.
func (r *Run) resumeAll(ctx context.Context, bulk *dataset, held *export.Expected, cut []*export.Received, k *replicaKill) {
	r.say(fmt.Sprintf("F1: resuming %d cut exports with after=<last whole id>", len(cut)))
	whole := r.exports.Get(ctx, export.CSV, held)
	defer whole.Drop()
	if res := whole.CSV(); res.Failure() != "" {
		k.find("the reference export (in one piece, after the kill) failed: %s%s", res.Failure(), describeFetch(res.Fetch))
	}
	for i, rec := range cut {
		if err := r.resume(ctx, bulk, rec.Body(), whole.Body()); err != nil {
			k.ResumedInexact++
			k.find("cut export %d: %v", i+1, err)
		}
	}
}

// servedAfterBack sends exports through the proxy once the victim is back, and counts those it
// served.
func (r *Run) servedAfterBack(ctx context.Context, src target.MetricsSource, victim int, name string, ld *dataset, k *replicaKill) {
	n := 4 * k.Replicas
	if beforeBack, err := src.ScrapeMetrics(ctx); err == nil {
		for _, res := range r.exportMany(ctx, ld.full, n) {
			if f := res.Failure(); f != "" {
				k.find("an export after %s came back failed: %s%s", name, f, describeFetch(res.Fetch))
			}
		}
		if afterBack, err := src.ScrapeMetrics(ctx); err == nil {
			b, _ := beforeBack[victim].Samples.Sum("exporter_exports_total", "format", "csv")
			a, _ := afterBack[victim].Samples.Sum("exporter_exports_total", "format", "csv")
			k.ServedAfterBack = a - b
		}
	}
	if k.ServedAfterBack < 1 {
		k.find("%s came back but the proxy sent it none of %d exports", name, n)
	}
}

// judgeReplicaKilled requires: every export the replica was serving ends incomplete (none counted
// as OK); each resumes exactly; exports started right after the kill succeed; the proxy takes the
// dead replica out of rotation; it is restarted, passes its health check and serves again.
func judgeReplicaKilled(th Thresholds, k replicaKill) evidence.Check {
	b := &builder{th: th}
	b.info("f1.replicas", float64(k.Replicas), "replicas")
	b.info("f1.exports_held", float64(k.Held), "exports")
	b.measure("f1.victim_exports_in_flight", k.VictimInFlight, "exports")
	b.info("f1.exports_cut", float64(k.Cut), "exports")
	b.info("f1.exports_whole", float64(k.Whole), "exports")
	b.measure("f1.cut_counted_ok", float64(k.countedOK()), "exports")
	b.measure("f1.held_exports_wrong", float64(k.Wrong), "exports")
	b.measure("f1.resumed_inexact", float64(k.ResumedInexact), "exports")
	b.measure("f1.failed_after_kill", float64(k.FailedAfterKill), "exports")
	b.measure("f1.seconds_out_of_rotation", k.OutOfRotation.Seconds(), "s")
	b.info("f1.requests_to_dead_replica", float64(k.SentToDead), "requests")
	b.measure("f1.seconds_until_back", k.Back.Seconds(), "s")
	b.measure("f1.victim_exports_after_return", k.ServedAfterBack, "exports")
	for _, f := range k.Findings {
		b.fail("%s", f)
	}
	return b.check()
}

// replicaWatch follows the proxy's view of one killed replica.
type replicaWatch struct {
	done chan struct{}
	st   watchResult
}

type watchResult struct {
	outOfRotation time.Duration // from the kill until the proxy stopped routing to it; 0: never
	back          time.Duration // until it was routed to again and ready; 0: not within Config.FaultWait
	watched       time.Duration
	sentWhileDead int64 // the proxy's request count for it when it came back (or the wait ended)
}

func watchReplica(ctx context.Context, rep target.Replicated, i int, killed time.Time, wait time.Duration, token string) *replicaWatch {
	w := &replicaWatch{done: make(chan struct{})}
	url := rep.Replicas()[i].URL
	ready := func() bool { return target.Ready(ctx, url, token) == nil }
	go func() {
		defer close(w.done)
		for time.Since(killed) < wait && ctx.Err() == nil {
			up, sent, err := rep.ProxyState(ctx, i)
			if err == nil {
				w.st.sentWhileDead = sent
				if !up && w.st.outOfRotation == 0 {
					w.st.outOfRotation = time.Since(killed)
				}
				if up && w.st.outOfRotation > 0 && ready() {
					w.st.back = time.Since(killed)
					break
				}
				// A proxy that never notices the death: wait until the replica is back anyway.
				if up && w.st.outOfRotation == 0 && time.Since(killed) > 5*time.Second && ready() {
					w.st.back = time.Since(killed)
					break
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		w.st.watched = time.Since(killed)
	}()
	return w
}

func (w *replicaWatch) wait() watchResult {
	<-w.done
	return w.st
}

// f1Check kills a replica in the middle of CSV exports, after the assertions judged the
// deployment whole: required of a deployment of replicas, not run against anything else.
var f1Check = define(Def{ID: "F1", Title: "replica killed",
	Spec:   "replica killed: cut exports detected and resumed exactly, the proxy routes around the dead replica, which comes back",
	Labels: []string{"fault", "F1"}, Timeout: 5 * time.Minute,
	Applies: firstOf(
		needs(func(c Capabilities) bool { return c.Replicas }, "the target is not a deployment of replicas behind a proxy"),
		needs(func(c Capabilities) bool { return c.API().Truncation && c.API().Resume },
			"the API cannot show a cut export as cut (integrity) or resume one (after)"))},
	measureReplicaKilled, judgeReplicaKilled)
