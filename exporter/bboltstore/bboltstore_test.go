package bboltstore

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/exportatscale/exportatscale/exporter"
)

// errVolumeFull is how a write to a full volume fails, as bbolt passes it on from File.WriteAt.
var errVolumeFull = &os.PathError{Op: "write", Path: "exporter.db", Err: syscall.ENOSPC}

func TestVolumeFull(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"write", errVolumeFull, true},
		{"wrapped", fmt.Errorf("commit: %w", errVolumeFull), true},
		{"quota", &os.PathError{Op: "write", Path: "exporter.db", Err: syscall.EDQUOT}, true},
		// bbolt's DB.grow formats its errors with %s.
		{"grow", fmt.Errorf("file resize error: %s", &os.PathError{Op: "truncate", Path: "exporter.db", Err: syscall.ENOSPC}), true},
		{"other errno", &os.PathError{Op: "write", Path: "exporter.db", Err: syscall.EIO}, false},
		{"other", errors.New("boom"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		if got := volumeFull(tt.err); got != tt.want {
			t.Errorf("%s: volumeFull(%v) = %t, want %t", tt.name, tt.err, got, tt.want)
		}
	}
}

// TestFailedWrite: a write that fails at its commit, as on a full volume, is ErrStoreFull, and
// bbolt rolls it back: nothing of it is stored, reads go on, the file stays consistent, and once
// there is room the same write succeeds.
func TestFailedWrite(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	sc := exporter.Schema{Columns: []exporter.Column{{Name: "n", Type: exporter.TypeInt}}}
	if _, err := s.PutSchema("d", sc); err != nil {
		t.Fatal(err)
	}
	rec := func(id uint64, n string) exporter.Record {
		return exporter.Record{ID: id, Value: append([]byte{byte(len(n))}, n...)}
	}
	if err := s.Upsert("d", []exporter.Record{rec(1, "10")}, false); err != nil {
		t.Fatal(err)
	}
	var full atomic.Bool
	s.failWrite = func() error {
		if full.Load() {
			return errVolumeFull
		}
		return nil
	}
	full.Store(true)
	batch := []exporter.Record{rec(1, "11"), rec(2, "20")}
	if err := s.Upsert("d", batch, true); !errors.Is(err, exporter.ErrStoreFull) {
		t.Fatalf("Upsert on a full volume: %v, want ErrStoreFull", err)
	}
	if _, err := s.PutSchema("e", sc); !errors.Is(err, exporter.ErrStoreFull) {
		t.Fatalf("PutSchema on a full volume: %v, want ErrStoreFull", err)
	}
	if got := scanAll(t, s); got != "1=10" {
		t.Errorf("after the refused batch: %s, want 1=10", got)
	}
	if err := s.Check(); err != nil {
		t.Errorf("bbolt check: %v", err)
	}
	full.Store(false)
	if err := s.Upsert("d", batch, true); err != nil {
		t.Fatal(err)
	}
	if got := scanAll(t, s); got != "1=11 2=20" {
		t.Errorf("after the batch: %s, want 1=11 2=20", got)
	}
	if counts, err := s.Counts(); err != nil || counts["d"] != 2 {
		t.Errorf("counts %v, %v; want d: 2", counts, err)
	}
}

// scanAll returns the records of dataset d as id=cell, in scan order.
func scanAll(t *testing.T, s *Store) string {
	t.Helper()
	var out []string
	err := s.View("d", func(snap exporter.Snapshot) error {
		return snap.Scan(0, -1, func(id uint64, cells [][]byte) error {
			out = append(out, fmt.Sprintf("%d=%s", id, cells[0]))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}
