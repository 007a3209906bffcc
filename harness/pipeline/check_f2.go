package pipeline

import (
	"bytes"
	"context"
	"encoding/csv"
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

// The restart's ingest: writers sending batches of batchSize records each.
const (
	f2Writers   = 4
	f2BatchSize = 250
)

// attempt is one send of a batch.
type attempt struct {
	sent, answered time.Time
	status         int
}

// batchLog is every send of one batch, and whether one was acknowledged.
type batchLog struct {
	attempts []attempt
	acked    bool
}

// databaseRestart is what F2 measured.
type databaseRestart struct {
	Batches, Acked, Unacked int
	Refused                 int // attempts refused (503 or no answer)
	ServerErrors            int // attempts answered with a 5xx other than 503
	Lost                    int // records of acknowledged batches that are missing
	Partial                 int // unacknowledged batches stored in part
	Mismatched              int // stored records that differ from what was sent
	Restart                 time.Duration
	Recovered               time.Duration // from the restart's end to the first ingest acknowledged after it
	NeverRecovered          bool
	Findings                []string
}

func (d *databaseRestart) find(format string, args ...any) {
	d.Findings = append(d.Findings, fmt.Sprintf(format, args...))
}

// f2Records are the records of batch k of the restart set.
func (r *Run) f2Records(k int) []seed.Record {
	return seed.Generate(r.cfg.Seed+uint64(1000+k), f2BatchSize, int64(k*f2BatchSize+1))
}

// measureDatabaseRestart has writers ingest batches into a dataset of their own through the proxy
// while the database is restarted (fast shutdown), retrying every other refused batch, and then
// reads back what was stored.
func measureDatabaseRestart(ctx context.Context, r *Run) (databaseRestart, error) {
	db := r.cfg.Target.(target.Database)
	name := r.datasetName("restart")
	if _, err := r.seeder.CreateDataset(ctx, name, r.schema); err != nil {
		return databaseRestart{}, err
	}
	batches, began, done, err := r.ingestThroughRestart(ctx, db, name)
	if err != nil {
		return databaseRestart{}, fmt.Errorf("restarting the database: %w", err)
	}
	time.Sleep(time.Second) // anything an exporter still writes lands before the count

	// What is stored now, through the proxy.
	probe, err := export.NewExpected(name, r.schema, nil, export.Options{})
	if err != nil {
		return databaseRestart{}, err
	}
	rec := r.exports.Get(ctx, export.CSV, probe)
	if !rec.Complete || rec.Status != http.StatusOK {
		return databaseRestart{}, fmt.Errorf("exporting the restart set afterwards%s", describeFetch(rec.Fetch))
	}
	present, err := csvIDs(rec.Body())
	if err != nil {
		return databaseRestart{}, fmt.Errorf("reading the restart set's export: %w", err)
	}
	d := databaseRestart{Batches: len(batches), Restart: done.Sub(began)}
	expected := d.tally(batches, present, done, r.f2Records)
	if d.Recovered == 0 {
		d.NeverRecovered, d.Recovered = true, time.Since(done)
	}
	// Every stored record, as exported, must be exactly one that was sent: values included.
	exp, err := export.NewExpected(name, r.schema, expected, export.Options{})
	if err != nil {
		return d, err
	}
	if rep := r.exports.Get(ctx, export.CSV, exp).CSV(); rep.Failure() != "" {
		d.Mismatched = rep.Mismatched + rep.Unexpected + rep.Duplicates
		d.find("the restart set after the restart: %s (%d missing, %d unexpected, %d fields differ)%s",
			rep.Failure(), rep.Missing, rep.Unexpected, rep.Mismatched, describeFetch(rep.Fetch))
	}
	return d, nil
}

// ingestThroughRestart runs the writers, restarts the database a second into their ingest, and
// lets them go on for three seconds after it is back. It returns every batch's log and when the
// restart began and ended.
func (r *Run) ingestThroughRestart(ctx context.Context, db target.Database, name string) (batches []*batchLog, began, done time.Time, err error) {
	var (
		mu     sync.Mutex
		next   int
		stopAt time.Time // set once the database is back: ingest goes on a while after it
		wg     sync.WaitGroup
	)
	for range f2Writers {
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
				// Even batches are retried until acknowledged; odd ones are sent once, so that
				// some batches stay unacknowledged and show whether a refused batch is ever
				// stored in part.
				r.sendUntilAcked(ctx, name, r.f2Records(k), b, &mu, k%2 == 0)
			}
		})
	}
	time.Sleep(time.Second) // ingest under way first
	r.say("F2: restarting PostgreSQL (fast shutdown) during ingest")
	began = time.Now()
	err = db.RestartDatabase(ctx, "fast")
	done = time.Now()
	mu.Lock()
	stopAt = time.Now().Add(3 * time.Second)
	mu.Unlock()
	wg.Wait()
	return batches, began, done, err
}

// sendUntilAcked sends one batch, again after each refusal while retry holds, until it is
// acknowledged or the fault's wait is over, logging every attempt in b under mu.
func (r *Run) sendUntilAcked(ctx context.Context, name string, recs []seed.Record, b *batchLog, mu *sync.Mutex, retry bool) {
	deadline := time.Now().Add(r.cfg.FaultWait)
	for tries := 0; !b.acked && time.Now().Before(deadline) && ctx.Err() == nil && (retry || tries == 0); tries++ {
		a := attempt{sent: time.Now()}
		status, wait, _ := r.seeder.SendBatch(ctx, name, r.schema, recs)
		a.answered, a.status = time.Now(), status
		mu.Lock()
		b.attempts = append(b.attempts, a)
		b.acked = status == http.StatusOK
		mu.Unlock()
		if !b.acked {
			time.Sleep(min(max(wait, 100*time.Millisecond), time.Second))
		}
	}
}

// tally counts the batches against the ids present after the restart, and returns the records
// that must be stored: those of every acknowledged batch, and of every unacknowledged one that is
// stored whole.
func (d *databaseRestart) tally(batches []*batchLog, present map[int64]bool, restartDone time.Time, records func(int) []seed.Record) []seed.Record {
	var expected []seed.Record
	for k, b := range batches {
		recs := records(k)
		have := 0
		for _, rc := range recs {
			if present[rc.ID] {
				have++
			}
		}
		for _, a := range b.attempts {
			switch {
			case a.status == http.StatusOK:
				if a.sent.After(restartDone) && (d.Recovered == 0 || a.answered.Sub(restartDone) < d.Recovered) {
					d.Recovered = a.answered.Sub(restartDone)
				}
			case a.status >= 500 && a.status != http.StatusServiceUnavailable:
				d.ServerErrors++
				d.find("batch %d: HTTP %d during the restart (want 503 with Retry-After, never a 500)", k+1, a.status)
			default:
				d.Refused++
			}
		}
		switch {
		case b.acked:
			d.Acked++
			if have < len(recs) {
				d.Lost += len(recs) - have
				d.find("batch %d was acknowledged, but %d of its %d records are missing", k+1, len(recs)-have, len(recs))
			}
			expected = append(expected, recs...)
		default:
			d.Unacked++
			switch have {
			case 0:
			case len(recs):
				expected = append(expected, recs...)
			default:
				d.Partial++
				d.find("batch %d was never acknowledged and is stored in part: %d of %d records", k+1, have, len(recs))
			}
		}
	}
	return expected
}

// judgeDatabaseRestart requires: every acknowledged record there with its value, every batch that
// was never acknowledged wholly there or wholly absent, no answer a 500, and ingest acknowledged
// again within the bound f2.seconds_to_recover.
func judgeDatabaseRestart(th Thresholds, d databaseRestart) evidence.Check {
	b := &builder{th: th}
	b.info("f2.writers", f2Writers, "writers")
	b.info("f2.batches", float64(d.Batches), "batches")
	b.info("f2.acknowledged_batches", float64(d.Acked), "batches")
	b.info("f2.unacknowledged_batches", float64(d.Unacked), "batches")
	b.info("f2.refused_attempts", float64(d.Refused), "attempts")
	b.info("f2.restart_seconds", d.Restart.Seconds(), "s")
	b.measure("f2.lost_acknowledged_records", float64(d.Lost), "records")
	b.measure("f2.partial_batches", float64(d.Partial), "batches")
	b.measure("f2.mismatched_records", float64(d.Mismatched), "records")
	b.measure("f2.server_errors", float64(d.ServerErrors), "responses")
	b.measure("f2.seconds_to_recover", d.Recovered.Seconds(), "s")
	for _, f := range d.Findings {
		b.fail("%s", f)
	}
	if d.NeverRecovered {
		b.fail("no ingest was acknowledged after the database came back")
	}
	if d.Acked == 0 || d.Refused == 0 {
		b.fail("%d batches acknowledged and %d attempts refused: the restart did not happen during ingest", d.Acked, d.Refused)
	}
	return b.check()
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

// f2Check restarts the database in the middle of ingest, after the assertions judged the
// deployment whole: required of a deployment over its own database, not run against anything else.
var f2Check = define(Def{ID: "F2", Title: "database restart",
	Spec:   "database restart: nothing acknowledged lost, no batch in part, ingest back within the bound",
	Labels: []string{"fault", "F2"}, Timeout: 5 * time.Minute,
	Applies: needs(func(c Capabilities) bool { return c.Database }, "the target is not a deployment with its own database")},
	measureDatabaseRestart, judgeDatabaseRestart)
