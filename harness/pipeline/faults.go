package pipeline

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/seed"
	"github.com/exportatscale/exportatscale/harness/target"
)

// The fault steps break a deployment of replicas (target.Replicated, target.Database) on
// purpose, after the assertions have judged it whole, and judge how it comes through: F1 kills a
// replica in the middle of CSV exports, F2 restarts the database in the middle of ingest. Each is a
// required check of a cluster run.

// Fault check IDs.
const (
	ReplicaKilledID   = "F1"
	DatabaseRestartID = "F2"
)

// FaultChecks are the IDs of the fault checks a target supports: what a run of it requires.
func FaultChecks(t target.Target) []string {
	var ids []string
	_, rep := t.(target.Replicated)
	_, src := t.(target.MetricsSource)
	if rep && src {
		ids = append(ids, ReplicaKilledID)
	}
	if _, ok := t.(target.Database); ok {
		ids = append(ids, DatabaseRestartID)
	}
	return ids
}

// holdBytes is what each held export reads before the kill.
const holdBytes = 64 << 10

// ReplicaKilled is F1. It holds CSV exports of the bulk set open through the proxy, SIGKILLs the
// replica serving most of them, and then requires: every export the replica was serving ends
// incomplete (none counted as OK); each resumes through the proxy with after=<last whole id> into
// exactly the export a survivor gives in one piece; exports started right after the kill succeed;
// the proxy takes the dead replica out of rotation; it is restarted, passes its health check and
// serves exports again.
func (r *Run) ReplicaKilled(ctx context.Context) evidence.Check {
	const id, title = ReplicaKilledID, "replica killed"
	rep, ok1 := r.cfg.Target.(target.Replicated)
	src, ok2 := r.cfg.Target.(target.MetricsSource)
	if !ok1 || !ok2 {
		return notObservable(id, title, "a deployment of replicas")
	}
	bulk, load := r.datasets["bulk"], r.datasets["load"]
	if bulk == nil || load == nil {
		return skipped(id, title, "the bulk and load sets")
	}
	n := len(rep.Replicas())
	if n < 2 {
		return failed(id, title, fmt.Errorf("%d replica: killing one leaves none to serve", n))
	}
	held, err := export.NewExpected(bulk.name, bulk.schema, bulk.records, export.Options{Limit: r.cfg.HeldRows})
	if err != nil {
		return failed(id, title, err)
	}
	var failures []string
	fail := func(format string, args ...any) { failures = append(failures, fmt.Sprintf(format, args...)) }

	r.say(fmt.Sprintf("F1: holding %d CSV exports open through the proxy", 3*n))
	stall := &export.Client{BaseURL: r.exports.BaseURL, Token: r.exports.Token, HTTP: r.stall}
	pending := make([]*export.Pending, 3*n)
	for i := range pending {
		pending[i] = stall.Open(ctx, export.CSV, held)
		if !pending[i].Fetch().Started() {
			fail("held export %d did not start%s", i+1, describeFetch(pending[i].Fetch()))
			continue
		}
		if _, err := pending[i].ReadSome(holdBytes); err != nil {
			fail("held export %d: %v", i+1, err)
		}
	}
	snaps, err := src.ScrapeMetrics(ctx)
	if err != nil {
		return failed(id, title, fmt.Errorf("scraping the replicas before the kill: %w", err))
	}
	victim, inFlight := 0, 0.0
	for i, s := range snaps {
		if v, _ := s.Samples.Get("exporter_exports_in_flight", "format", "csv"); v > inFlight {
			victim, inFlight = i, v
		}
	}
	name := r.replicaName(victim)
	restartsBefore, err := rep.ReplicaRestarts(ctx, victim)
	if err != nil {
		return failed(id, title, err)
	}
	_, sentBefore, _ := rep.ProxyState(ctx, victim)

	r.say(fmt.Sprintf("F1: SIGKILL %s with %.0f exports in flight", name, inFlight))
	killed := time.Now()
	if err := rep.KillReplica(ctx, victim); err != nil {
		return failed(id, title, err)
	}
	// The proxy's view of the victim, polled until it is back (or the wait is over).
	watch := watchReplica(ctx, rep, victim, killed, r.cfg.FaultWait)

	// Exports started right after the kill, all at once: a proxy that still routes to the dead
	// replica fails some of them. As many as the survivors can take beside the held ones.
	after := r.exportMany(ctx, load.full, 4*(n-1))
	failedAfter := 0
	for _, res := range after {
		if f := res.Failure(); f != "" {
			failedAfter++
			fail("an export started right after the kill failed: %s%s", f, describeFetch(res.Fetch))
		}
	}

	// The held exports, read to their ends.
	var cut []*export.Received
	okHeld, wrong := 0, 0
	for _, p := range pending {
		rec := p.Receive()
		res := rec.CSV()
		switch f := res.Failure(); {
		case f == "":
			okHeld++
		case res.Missing+res.Duplicates+res.Unexpected+res.OutOfOrder+res.Mismatched+res.GuardViolations > 0 && rec.Complete:
			wrong++
			fail("a held export arrived whole but wrong: %s%s", f, describeFetch(res.Fetch))
		default:
			cut = append(cut, rec)
		}
	}
	if inFlight < 1 {
		fail("no export was in flight on %s when it was killed: nothing was cut, so nothing could be judged", name)
	}
	countedOK := max(0, int(inFlight)-len(cut))
	if countedOK > 0 {
		fail("%s was serving %.0f exports when it died, but only %d ended incomplete: %d cut export(s) passed as whole", name, inFlight, len(cut), countedOK)
	}

	// Each cut export, resumed after its last whole record and put together, must be exactly the
	// export in one piece.
	r.say(fmt.Sprintf("F1: resuming %d cut exports with after=<last whole id>", len(cut)))
	whole := r.exports.Get(ctx, export.CSV, held)
	if res := whole.CSV(); res.Failure() != "" {
		fail("the reference export (in one piece, after the kill) failed: %s%s", res.Failure(), describeFetch(res.Fetch))
	}
	inexact := 0
	for i, rec := range cut {
		if err := r.resume(ctx, bulk, rec.Body(), whole.Body()); err != nil {
			inexact++
			fail("cut export %d: %v", i+1, err)
		}
	}
	whole.Drop()

	st := watch.wait()
	outOfRotation := st.outOfRotation.Seconds()
	if st.outOfRotation == 0 {
		outOfRotation = st.watched.Seconds()
		fail("the proxy never took %s out of rotation while it was dead (for %.1f s): it kept routing to a dead replica", name, st.watched.Seconds())
	}
	back := st.back.Seconds()
	if st.back == 0 {
		back = st.watched.Seconds()
		fail("%s was not back within %v of the kill (restarted, ready, routed to)", name, r.cfg.FaultWait)
	}
	restarts, _ := rep.ReplicaRestarts(ctx, victim)
	if st.back > 0 && restarts <= restartsBefore {
		fail("%s answers again but was never restarted", name)
	}

	// Back in rotation, it must serve exports again.
	served := 0.0
	if st.back > 0 {
		beforeBack, err := src.ScrapeMetrics(ctx)
		if err == nil {
			for _, res := range r.exportMany(ctx, load.full, 4*n) {
				if f := res.Failure(); f != "" {
					fail("an export after %s came back failed: %s%s", name, f, describeFetch(res.Fetch))
				}
			}
			if afterBack, err := src.ScrapeMetrics(ctx); err == nil {
				b, _ := beforeBack[victim].Samples.Sum("exporter_exports_total", "format", "csv")
				a, _ := afterBack[victim].Samples.Sum("exporter_exports_total", "format", "csv")
				served = a - b
			}
		}
		if served < 1 {
			fail("%s came back but the proxy sent it none of %d exports", name, 4*n)
		}
	}

	measures := []evidence.Measure{
		r.info("f1.replicas", float64(n), "replicas"),
		r.info("f1.exports_held", float64(len(pending)), "exports"),
		r.info("f1.victim_exports_in_flight", inFlight, "exports"),
		r.info("f1.exports_cut", float64(len(cut)), "exports"),
		r.info("f1.exports_whole", float64(okHeld), "exports"),
		r.info("f1.cut_counted_ok", float64(countedOK), "exports"),
		r.info("f1.held_exports_wrong", float64(wrong), "exports"),
		r.info("f1.resumed_inexact", float64(inexact), "exports"),
		r.info("f1.failed_after_kill", float64(failedAfter), "exports"),
		r.info("f1.seconds_out_of_rotation", outOfRotation, "s"),
		r.info("f1.requests_to_dead_replica", float64(max(0, st.sentWhileDead-sentBefore)), "requests"),
		r.info("f1.seconds_until_back", back, "s"),
		r.info("f1.victim_exports_after_return", served, "exports"),
	}
	return evidence.NewCheck(id, title, measures, failures)
}

// notObservable is the check of a fault the target cannot be put through: not run.
func notObservable(id, title, what string) evidence.Check {
	return evidence.Check{ID: id, Title: title, Status: evidence.StatusNotRun,
		Failures: []string{"the target is not " + what + ", so this fault cannot be staged"}}
}

// exportMany runs n CSV exports of exp at once through the proxy, fully verified. An export
// refused as saturated (503 with Retry-After) is tried again after that wait, up to three times,
// as a client should: the survivors of a kill carry its load too.
func (r *Run) exportMany(ctx context.Context, exp *export.Expected, n int) []export.CSVReport {
	out := make([]export.CSVReport, n)
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() {
			for try := 0; ; try++ {
				out[i] = r.exports.CSV(ctx, exp)
				wait, _ := strconv.Atoi(out[i].Header.Get("Retry-After"))
				if out[i].Status != http.StatusServiceUnavailable || wait < 1 || try == 3 {
					return
				}
				time.Sleep(time.Duration(wait) * time.Second)
			}
		})
	}
	wg.Wait()
	return out
}

// resume puts a cut export back together: its whole records, then the rest through the proxy
// with after=<last whole id>, must be byte for byte the export in one piece, and the rest must
// verify on its own (trailers included).
func (r *Run) resume(ctx context.Context, d *dataset, cutBody, whole []byte) error {
	p := export.CompletePrefix(cutBody)
	if p.HeaderLen == 0 {
		return errors.New("not even the header arrived")
	}
	rest := r.cfg.HeldRows - p.Rows
	got := append([]byte(nil), cutBody[:p.Len]...)
	if rest > 0 {
		exp, err := export.NewExpected(d.name, d.schema, d.records, export.Options{After: p.LastID, Limit: rest})
		if err != nil {
			return err
		}
		rec := r.exports.Get(ctx, export.CSV, exp)
		if rep := rec.CSV(); rep.Failure() != "" {
			return fmt.Errorf("resuming after id %d: %s%s", p.LastID, rep.Failure(), describeFetch(rep.Fetch))
		}
		rp := export.CompletePrefix(rec.Body())
		got = append(got, rec.Body()[rp.HeaderLen:]...)
	}
	if !bytes.Equal(got, whole) {
		return fmt.Errorf("cut after %d whole rows (id %d) and resumed: %d bytes, the export in one piece has %d, and they differ", p.Rows, p.LastID, len(got), len(whole))
	}
	return nil
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

func watchReplica(ctx context.Context, rep target.Replicated, i int, killed time.Time, wait time.Duration) *replicaWatch {
	w := &replicaWatch{done: make(chan struct{})}
	url := rep.Replicas()[i].URL
	go func() {
		defer close(w.done)
		hc := &http.Client{Timeout: time.Second}
		for time.Since(killed) < wait && ctx.Err() == nil {
			up, sent, err := rep.ProxyState(ctx, i)
			if err == nil {
				w.st.sentWhileDead = sent
				if !up && w.st.outOfRotation == 0 {
					w.st.outOfRotation = time.Since(killed)
				}
				if up && w.st.outOfRotation > 0 && ready(ctx, hc, url) {
					w.st.back = time.Since(killed)
					break
				}
				// A proxy that never notices the death: wait until the replica is back anyway.
				if up && w.st.outOfRotation == 0 && time.Since(killed) > 5*time.Second && ready(ctx, hc, url) {
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

func ready(ctx context.Context, hc *http.Client, base string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// DatabaseRestart is F2. Writers ingest batches into a dataset of their own through the proxy
// while the database is restarted (fast shutdown), retrying every other refused batch; afterwards every
// acknowledged record must be there with its value, every batch that was never acknowledged
// wholly there or wholly absent, no answer a 500, and ingest acknowledged again within the
// bound f2.seconds_to_recover.
func (r *Run) DatabaseRestart(ctx context.Context) evidence.Check {
	const id, title = DatabaseRestartID, "database restart"
	db, ok := r.cfg.Target.(target.Database)
	if !ok {
		return notObservable(id, title, "a deployment with its own database")
	}
	name := r.datasetName("restart")
	if _, err := r.seeder.CreateDataset(ctx, name, r.schema); err != nil {
		return failed(id, title, err)
	}
	const writers, batchSize = 4, 250
	batchRecords := func(k int) []seed.Record {
		return seed.Generate(r.cfg.Seed+uint64(1000+k), batchSize, int64(k*batchSize+1))
	}

	type attempt struct {
		sent, answered time.Time
		status         int
		err            string
	}
	type batchLog struct {
		attempts []attempt
		acked    bool
	}
	var (
		mu      sync.Mutex
		batches []*batchLog
		next    int
		stopAt  time.Time // set once the database is back: ingest goes on a while after it
	)
	restarted := make(chan struct{})
	var restartBegan, restartDone time.Time
	var restartErr error
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for ctx.Err() == nil {
				mu.Lock()
				if !stopAt.IsZero() && time.Now().After(stopAt) {
					mu.Unlock()
					return
				}
				k := next
				next++
				b := &batchLog{}
				batches = append(batches, b)
				mu.Unlock()
				body, err := r.ndjson(batchRecords(k))
				if err != nil {
					return
				}
				// Even batches are retried until acknowledged; odd ones are sent once, so that
				// some batches stay unacknowledged and show whether a refused batch is ever
				// stored in part.
				retry := k%2 == 0
				deadline := time.Now().Add(r.cfg.FaultWait)
				for tries := 0; !b.acked && time.Now().Before(deadline) && ctx.Err() == nil && (retry || tries == 0); tries++ {
					a := attempt{sent: time.Now()}
					status, wait, err := r.postBatch(ctx, name, body)
					a.answered, a.status = time.Now(), status
					if err != nil {
						a.err = err.Error()
					}
					mu.Lock()
					b.attempts = append(b.attempts, a)
					b.acked = status == http.StatusOK
					mu.Unlock()
					if !b.acked {
						time.Sleep(min(max(wait, 100*time.Millisecond), time.Second))
					}
				}
			}
		})
	}
	go func() {
		defer close(restarted)
		time.Sleep(time.Second) // ingest under way first
		r.say("F2: restarting PostgreSQL (fast shutdown) during ingest")
		restartBegan = time.Now()
		restartErr = db.RestartDatabase(ctx, "fast")
		restartDone = time.Now()
		mu.Lock()
		stopAt = time.Now().Add(3 * time.Second)
		mu.Unlock()
	}()
	<-restarted
	wg.Wait()
	if restartErr != nil {
		return failed(id, title, fmt.Errorf("restarting the database: %w", restartErr))
	}
	time.Sleep(time.Second) // anything an exporter still writes lands before the count

	// What is stored now, through the proxy.
	probe, err := export.NewExpected(name, r.schema, nil, export.Options{})
	if err != nil {
		return failed(id, title, err)
	}
	rec := r.exports.Get(ctx, export.CSV, probe)
	if !rec.Complete || rec.Status != http.StatusOK {
		return failed(id, title, fmt.Errorf("exporting the restart set afterwards%s", describeFetch(rec.Fetch)))
	}
	present, err := csvIDs(rec.Body())
	if err != nil {
		return failed(id, title, fmt.Errorf("reading the restart set's export: %w", err))
	}

	var failures []string
	var expected []seed.Record
	acked, lost, partial, unacked, refused, serverErrors := 0, 0, 0, 0, 0, 0
	recovered := time.Duration(0)
	for k, b := range batches {
		recs := batchRecords(k)
		have := 0
		for _, rc := range recs {
			if present[rc.ID] {
				have++
			}
		}
		for _, a := range b.attempts {
			switch {
			case a.status == http.StatusOK:
				if a.sent.After(restartDone) && (recovered == 0 || a.answered.Sub(restartDone) < recovered) {
					recovered = a.answered.Sub(restartDone)
				}
			case a.status >= 500 && a.status != http.StatusServiceUnavailable:
				serverErrors++
				failures = append(failures, fmt.Sprintf("batch %d: HTTP %d during the restart (want 503 with Retry-After, never a 500)", k+1, a.status))
			default:
				refused++
			}
		}
		switch {
		case b.acked:
			acked++
			if have < len(recs) {
				lost += len(recs) - have
				failures = append(failures, fmt.Sprintf("batch %d was acknowledged, but %d of its %d records are missing", k+1, len(recs)-have, len(recs)))
			}
			expected = append(expected, recs...)
		default:
			unacked++
			switch have {
			case 0:
			case len(recs):
				expected = append(expected, recs...)
			default:
				partial++
				failures = append(failures, fmt.Sprintf("batch %d was never acknowledged and is stored in part: %d of %d records", k+1, have, len(recs)))
			}
		}
	}
	// Every stored record, as exported, must be exactly one that was sent: values included.
	exp, err := export.NewExpected(name, r.schema, expected, export.Options{})
	if err != nil {
		return failed(id, title, err)
	}
	rec2 := r.exports.Get(ctx, export.CSV, exp)
	mismatched := 0
	if rep := rec2.CSV(); rep.Failure() != "" {
		mismatched = rep.Mismatched + rep.Unexpected + rep.Duplicates
		failures = append(failures, fmt.Sprintf("the restart set after the restart: %s (%d missing, %d unexpected, %d fields differ)%s",
			rep.Failure(), rep.Missing, rep.Unexpected, rep.Mismatched, describeFetch(rep.Fetch)))
	}
	recoverSeconds := recovered.Seconds()
	if recovered == 0 {
		recoverSeconds = time.Since(restartDone).Seconds()
		failures = append(failures, "no ingest was acknowledged after the database came back")
	}
	measures := []evidence.Measure{
		r.info("f2.writers", writers, "writers"),
		r.info("f2.batches", float64(len(batches)), "batches"),
		r.info("f2.acknowledged_batches", float64(acked), "batches"),
		r.info("f2.unacknowledged_batches", float64(unacked), "batches"),
		r.info("f2.refused_attempts", float64(refused), "attempts"),
		r.info("f2.restart_seconds", restartDone.Sub(restartBegan).Seconds(), "s"),
		r.info("f2.lost_acknowledged_records", float64(lost), "records"),
		r.info("f2.partial_batches", float64(partial), "batches"),
		r.info("f2.mismatched_records", float64(mismatched), "records"),
		r.info("f2.server_errors", float64(serverErrors), "responses"),
		r.info("f2.seconds_to_recover", recoverSeconds, "s"),
	}
	if acked == 0 || refused == 0 {
		failures = append(failures, fmt.Sprintf("%d batches acknowledged and %d attempts refused: the restart did not happen during ingest", acked, refused))
	}
	return evidence.NewCheck(id, title, measures, failures)
}

// ndjson is recs as an NDJSON batch of the trades schema.
func (r *Run) ndjson(recs []seed.Record) ([]byte, error) {
	var b bytes.Buffer
	for _, rec := range recs {
		line, err := r.schema.MarshalRecord(rec)
		if err != nil {
			return nil, err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// postBatch sends one NDJSON batch and returns the status (0: no answer) and its Retry-After.
func (r *Run) postBatch(ctx context.Context, dataset string, body []byte) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.exports.BaseURL+"/v1/datasets/"+dataset+"/records", bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if r.exports.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.exports.Token)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, time.Duration(secs) * time.Second, nil
}

// csvIDs reads the ids of a CSV export (first column, header skipped).
func csvIDs(body []byte) (map[int64]bool, error) {
	cr := csv.NewReader(bytes.NewReader(body))
	cr.FieldsPerRecord = -1
	if _, err := cr.Read(); err != nil {
		return nil, err
	}
	ids := map[int64]bool{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return ids, nil
		}
		if err != nil {
			return nil, err
		}
		n, err := strconv.ParseInt(rec[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("id %q: %w", rec[0], err)
		}
		ids[n] = true
	}
}
