package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/exportatscale/exportatscale/harness/export"
)

// What the fault checks share: CSV exports sent together through the proxy while a fault is on,
// and a cut export put back together afterwards.

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
