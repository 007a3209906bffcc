package faults

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/exporter"
)

// memStore is an exporter.Store in memory that records its writes.
type memStore struct {
	exporter.Store // not called: a call outside the methods below panics
	mu             sync.Mutex
	ready          bool
	writes         []string // "name:id=value" per record, in write order
}

func (m *memStore) Schema(name string) (exporter.Schema, error) {
	if name != "d" {
		return exporter.Schema{}, exporter.ErrNotFound
	}
	return exporter.Schema{}, nil
}

func (m *memStore) Ready() bool { return m.ready }

func (m *memStore) Upsert(name string, recs []exporter.Record, group bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		m.writes = append(m.writes, name+":"+string(rune('0'+r.ID))+"="+string(r.Value))
	}
	return nil
}

func (m *memStore) written() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.writes...)
}

// TestAckBeforeCommit: an ingest is acknowledged before the store has it, and the store gets a
// copy of it only after the delay; a dataset that does not exist and a store that is not ready
// are still refused at once.
func TestAckBeforeCommit(t *testing.T) {
	inner := &memStore{ready: true}
	s := AckBeforeCommit(inner, 50*time.Millisecond)
	value := []byte("a")
	start := time.Now()
	if err := s.Upsert("d", []exporter.Record{{ID: 1, Value: value}}, false); err != nil {
		t.Fatal(err)
	}
	value[0] = 'b' // the caller reuses its buffer once acknowledged
	if got := inner.written(); len(got) != 0 {
		t.Fatalf("the store has %q at the acknowledgement, want nothing yet", got)
	}
	s.(*ackEarly).pending.Wait()
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Errorf("written after %v, want the delay first", took)
	}
	if got := inner.written(); len(got) != 1 || got[0] != "d:1=a" {
		t.Errorf("the store got %q, want [d:1=a]", got)
	}

	if err := s.Upsert("nope", nil, false); !errors.Is(err, exporter.ErrNotFound) {
		t.Errorf("an unknown dataset: %v, want ErrNotFound", err)
	}
	inner.ready = false
	if err := s.Upsert("d", []exporter.Record{{ID: 2, Value: []byte("c")}}, false); !errors.Is(err, exporter.ErrStoreUnavailable) {
		t.Errorf("a store that is not ready: %v, want ErrStoreUnavailable", err)
	}
	s.(*ackEarly).pending.Wait()
	if got := inner.written(); len(got) != 1 {
		t.Errorf("refused ingests reached the store: %q", got)
	}
}
