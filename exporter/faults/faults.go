// Package faults breaks a store on purpose, for the harness's self-tests: a decorator around a
// working exporter.Store that misbehaves in one known way, so that the acceptance checks can be
// shown to catch it (RED with the fault, GREEN without). Production code never wraps a store in
// it: only the exporter binary built with -tags exporterfaults wires it in (see
// exporter/cmd/exporter), and no store knows of it.
package faults

import (
	"fmt"
	"sync"
	"time"

	"github.com/exportatscale/exportatscale/exporter"
)

// AckEarlyDelay is how long AckBeforeCommit holds an acknowledged write before sending it to the
// store: long enough that records acknowledged just before a database restart are lost.
const AckEarlyDelay = 500 * time.Millisecond

// AckBeforeCommit returns s with every ingest acknowledged before it is committed: Upsert checks
// that the dataset exists and that s is ready, then returns nil at once and writes a copy of the
// records after delay, dropping the write's error. The harness's F2 (lost acknowledged records)
// must fail against it.
func AckBeforeCommit(s exporter.Store, delay time.Duration) exporter.Store {
	return &ackEarly{Store: s, delay: delay}
}

// ackEarly is the store of AckBeforeCommit.
type ackEarly struct {
	exporter.Store
	delay   time.Duration
	pending sync.WaitGroup // the writes not yet sent, for tests
}

// Upsert acknowledges recs and writes them later, in the background.
func (s *ackEarly) Upsert(name string, recs []exporter.Record, group bool) error {
	if _, err := s.Schema(name); err != nil {
		return err
	}
	if !s.Ready() {
		return fmt.Errorf("%w: not ready", exporter.ErrStoreUnavailable)
	}
	// The caller may reuse the records' memory once acknowledged.
	kept := make([]exporter.Record, len(recs))
	for i, r := range recs {
		kept[i] = exporter.Record{ID: r.ID, Value: append([]byte(nil), r.Value...)}
	}
	s.pending.Add(1)
	go func() { // the fault: the caller is told "stored" before anything is
		defer s.pending.Done()
		time.Sleep(s.delay)
		_ = s.Store.Upsert(name, kept, group)
	}()
	return nil
}
