// Package bboltstore is the exporter's default store: every dataset in one embedded bbolt file,
// each in its own bucket keyed by the big-endian id, so that a cursor walks the records in export
// order and an export is one read transaction.
package bboltstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/exportatscale/exportatscale/exporter"
)

var (
	bucketSchemas = []byte("schemas")
	bucketCounts  = []byte("counts")
)

func dataBucket(name string) []byte { return []byte("d/" + name) }

// Store is the exporter.Store in an embedded bbolt database. It keeps each dataset in its own bucket keyed by the big-endian id, so a cursor walks
// records in export order.
type Store struct {
	db      *bolt.DB
	schemas sync.Map // name → Schema; schemas never change once created
	mu      sync.RWMutex
	closed  bool
	// failWrite, set only by tests, runs at the end of every write transaction, once its changes
	// are made and before bbolt commits them. An error from it fails the write as the disk would
	// (syscall.ENOSPC: a full volume), and bbolt rolls the transaction back.
	failWrite func() error
}

// Open opens (creating if needed) the store in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, "exporter.db"), 0o600, &bolt.Options{
		Timeout:      5 * time.Second, // another process holding the file lock
		FreelistType: bolt.FreelistMapType,
		// Growing the mapping waits for every open read transaction, and an export holds one for
		// its whole stream: reserve address space (not memory) so writes rarely need to remap.
		InitialMmapSize: 1 << 30,
		// The freelist stays synced: without it, opening the store walks every page to rebuild it,
		// and the resident set starts at the size of the whole file.
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	// Single-record ingest under concurrency: commit whatever arrived within a millisecond together.
	db.MaxBatchDelay = time.Millisecond
	if err := db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketSchemas); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(bucketCounts)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("init store: %w", err)
	}
	return &Store{db: db}, nil
}

// update runs fn in one write transaction, which concurrent callers share when group is set
// (DB.Batch may then run fn more than once). A volume out of space is reported as ErrStoreFull.
func (s *Store) update(group bool, fn func(*bolt.Tx) error) error {
	if fail := s.failWrite; fail != nil {
		write := fn
		fn = func(tx *bolt.Tx) error {
			if err := write(tx); err != nil {
				return err
			}
			return fail()
		}
	}
	var err error
	if group {
		err = s.db.Batch(fn)
	} else {
		err = s.db.Update(fn)
	}
	if volumeFull(err) {
		return fmt.Errorf("%w: %w", exporter.ErrStoreFull, err)
	}
	return err
}

// volumeFull reports whether err comes from the data volume running out of space or quota. bbolt
// wraps the errors of writing and syncing pages with the errno kept, but formats those of growing
// the file ("file resize error: %s", db.go) as text, so the errno's message is matched too.
func volumeFull(err error) bool {
	if err == nil {
		return false
	}
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT} {
		if errors.Is(err, errno) || strings.Contains(err.Error(), errno.Error()) {
			return true
		}
	}
	return false
}

// PutSchema creates the dataset: its schema, its bucket and its count, in one transaction.
func (s *Store) PutSchema(name string, sc exporter.Schema) (bool, error) {
	created := false
	err := s.update(false, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSchemas)
		if old := b.Get([]byte(name)); old != nil {
			var prev exporter.Schema
			if err := json.Unmarshal(old, &prev); err != nil {
				return err
			}
			if !prev.Equal(sc) {
				return exporter.ErrSchemaConflict
			}
			return nil
		}
		raw, err := json.Marshal(sc)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket(dataBucket(name)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketCounts).Put([]byte(name), binary.BigEndian.AppendUint64(nil, 0)); err != nil {
			return err
		}
		created = true
		return b.Put([]byte(name), raw)
	})
	return created, err
}

// Schema returns the dataset's schema, cached once read: a schema never changes.
func (s *Store) Schema(name string) (exporter.Schema, error) {
	if v, ok := s.schemas.Load(name); ok {
		return v.(exporter.Schema), nil
	}
	var sc exporter.Schema
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketSchemas).Get([]byte(name))
		if raw == nil {
			return exporter.ErrNotFound
		}
		return json.Unmarshal(raw, &sc)
	})
	if err == nil {
		s.schemas.Store(name, sc)
	}
	return sc, err
}

// Counts reads every dataset's record count, kept beside the records by every write.
func (s *Store) Counts() (map[string]uint64, error) {
	out := map[string]uint64{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCounts).ForEach(func(k, v []byte) error {
			out[string(k)] = binary.BigEndian.Uint64(v)
			return nil
		})
	})
	return out, err
}

// Upsert writes recs and the dataset's new count in one transaction, shared by concurrent
// callers when group is set (bbolt's Batch).
func (s *Store) Upsert(name string, recs []exporter.Record, group bool) error {
	fn := func(tx *bolt.Tx) error {
		b := tx.Bucket(dataBucket(name))
		if b == nil {
			return exporter.ErrNotFound
		}
		counts := tx.Bucket(bucketCounts)
		count := binary.BigEndian.Uint64(counts.Get([]byte(name)))
		var key [8]byte
		for _, r := range recs {
			binary.BigEndian.PutUint64(key[:], r.ID)
			if b.Get(key[:]) == nil {
				count++
			}
			if err := b.Put(key[:], r.Value); err != nil {
				return err
			}
		}
		return counts.Put([]byte(name), binary.BigEndian.AppendUint64(nil, count))
	}
	return s.update(group, fn)
}

// View runs fn in one read transaction, which an export holds for its whole stream.
func (s *Store) View(name string, fn func(exporter.Snapshot) error) error {
	sc, err := s.Schema(name)
	if err != nil {
		return err
	}
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(dataBucket(name))
		if b == nil {
			return exporter.ErrNotFound
		}
		rows := binary.BigEndian.Uint64(tx.Bucket(bucketCounts).Get([]byte(name)))
		return fn(&snapshot{b: b, schema: sc, rows: rows})
	})
}

// Check runs bbolt's consistency check over the whole file and returns what it finds.
func (s *Store) Check() error {
	return s.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// Ready reports whether the store is open.
func (s *Store) Ready() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return !s.closed
}

// Close closes the database file; Ready is false from then on.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.db.Close()
}

type snapshot struct {
	b      *bolt.Bucket
	schema exporter.Schema
	rows   uint64
}

func (s *snapshot) Schema() exporter.Schema { return s.schema }
func (s *snapshot) Rows() uint64            { return s.rows }

// Scan walks the bucket with a cursor from the id after after, decoding each record's cells; they
// alias the mapped file and stay valid only during fn.
func (s *snapshot) Scan(after uint64, limit int64, fn func(id uint64, cells [][]byte) error) error {
	if after == ^uint64(0) {
		return nil
	}
	c := s.b.Cursor()
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], after+1)
	cells := make([][]byte, 0, len(s.schema.Columns))
	var n int64
	for k, v := c.Seek(key[:]); k != nil; k, v = c.Next() {
		if limit >= 0 && n >= limit {
			return nil
		}
		n++
		if len(k) != 8 {
			return exporter.ErrCorrupt
		}
		id := binary.BigEndian.Uint64(k)
		var err error
		if cells, err = exporter.DecodeCells(cells, v, len(s.schema.Columns)); err != nil {
			return fmt.Errorf("record %d: %w", id, err)
		}
		if err := fn(id, cells); err != nil {
			return err
		}
	}
	return nil
}
