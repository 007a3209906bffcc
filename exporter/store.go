package exporter

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
)

// Store is where datasets live. The HTTP layer knows only this interface, so another source (a
// shared PostgreSQL, say) can stand behind the same API.
type Store interface {
	// PutSchema creates a dataset; created is false when the same schema already exists, and the
	// error is ErrSchemaConflict when a different one does.
	PutSchema(name string, s Schema) (created bool, err error)
	// Schema returns a dataset's schema, or ErrNotFound.
	Schema(name string) (Schema, error)
	// Counts returns the number of records of every dataset.
	Counts() (map[string]uint64, error)
	// Upsert writes records atomically, replacing those with the same id (the last of a batch
	// wins). With group set, concurrent calls may share one commit. It returns once the records
	// are committed: never before.
	Upsert(name string, recs []Record, group bool) error
	// View runs fn on one consistent snapshot of a dataset.
	View(name string, fn func(Snapshot) error) error
	// Ready reports whether the store can serve: open, and its database reachable.
	Ready() bool
	Close() error
}

// Snapshot is a consistent read view of one dataset.
type Snapshot interface {
	// Schema is the dataset's schema.
	Schema() Schema
	// Rows is the number of records in the snapshot.
	Rows() uint64
	// Scan calls fn for every record with an id greater than after, in ascending id order, for at
	// most limit records (all when limit < 0), until fn returns an error (errStopScan ends it
	// cleanly). cells holds the record's canonical cell texts (see [Type]), one per column of the
	// schema. They may alias the store's own buffers, so they are only valid until fn returns: a
	// store hands over rows as it reads them, and the encoders copy what they keep.
	Scan(after uint64, limit int64, fn func(id uint64, cells [][]byte) error) error
}

// Record is one record in stored form: its id and its cells (see recordParser.parse).
type Record struct {
	ID    uint64
	Value []byte
}

// Errors of the store, mapped to HTTP statuses at the edge (errorResponse).
var (
	// ErrNotFound is a dataset that does not exist: its schema was never put.
	ErrNotFound = errors.New("dataset not found")
	// ErrSchemaConflict is a PutSchema of a dataset that exists with another schema.
	ErrSchemaConflict = errors.New("dataset exists with a different schema")
	// ErrStoreFull wraps a write that failed because the store's volume is out of space (or over
	// its quota). Nothing of the write is stored, and reads go on.
	ErrStoreFull = errors.New("the store is full")
	errStopScan  = errors.New("stop scan")
)

var (
	bucketSchemas = []byte("schemas")
	bucketCounts  = []byte("counts")
)

func dataBucket(name string) []byte { return []byte("d/" + name) }

// boltStore keeps each dataset in its own bucket keyed by the big-endian id, so a cursor walks
// records in export order.
type boltStore struct {
	db      *bolt.DB
	schemas sync.Map // name → Schema; schemas never change once created
	mu      sync.RWMutex
	closed  bool
	// failWrite, set only by tests, runs at the end of every write transaction, once its changes
	// are made and before bbolt commits them. An error from it fails the write as the disk would
	// (syscall.ENOSPC: a full volume), and bbolt rolls the transaction back.
	failWrite func() error
}

// OpenBolt opens (creating if needed) the store in dir.
func OpenBolt(dir string) (Store, error) {
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
	return &boltStore{db: db}, nil
}

// update runs fn in one write transaction, which concurrent callers share when group is set
// (DB.Batch may then run fn more than once). A volume out of space is reported as ErrStoreFull.
func (s *boltStore) update(group bool, fn func(*bolt.Tx) error) error {
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
		return fmt.Errorf("%w: %w", ErrStoreFull, err)
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

func (s *boltStore) PutSchema(name string, sc Schema) (bool, error) {
	created := false
	err := s.update(false, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSchemas)
		if old := b.Get([]byte(name)); old != nil {
			var prev Schema
			if err := json.Unmarshal(old, &prev); err != nil {
				return err
			}
			if !prev.equal(sc) {
				return ErrSchemaConflict
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

func (s *boltStore) Schema(name string) (Schema, error) {
	if v, ok := s.schemas.Load(name); ok {
		return v.(Schema), nil
	}
	var sc Schema
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketSchemas).Get([]byte(name))
		if raw == nil {
			return ErrNotFound
		}
		return json.Unmarshal(raw, &sc)
	})
	if err == nil {
		s.schemas.Store(name, sc)
	}
	return sc, err
}

func (s *boltStore) Counts() (map[string]uint64, error) {
	out := map[string]uint64{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCounts).ForEach(func(k, v []byte) error {
			out[string(k)] = binary.BigEndian.Uint64(v)
			return nil
		})
	})
	return out, err
}

func (s *boltStore) Upsert(name string, recs []Record, group bool) error {
	fn := func(tx *bolt.Tx) error {
		b := tx.Bucket(dataBucket(name))
		if b == nil {
			return ErrNotFound
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

func (s *boltStore) View(name string, fn func(Snapshot) error) error {
	sc, err := s.Schema(name)
	if err != nil {
		return err
	}
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(dataBucket(name))
		if b == nil {
			return ErrNotFound
		}
		rows := binary.BigEndian.Uint64(tx.Bucket(bucketCounts).Get([]byte(name)))
		return fn(&boltSnapshot{b: b, schema: sc, rows: rows})
	})
}

func (s *boltStore) Ready() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return !s.closed
}

func (s *boltStore) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.db.Close()
}

type boltSnapshot struct {
	b      *bolt.Bucket
	schema Schema
	rows   uint64
}

func (s *boltSnapshot) Schema() Schema { return s.schema }
func (s *boltSnapshot) Rows() uint64   { return s.rows }

func (s *boltSnapshot) Scan(after uint64, limit int64, fn func(id uint64, cells [][]byte) error) error {
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
			return errCorrupt
		}
		id := binary.BigEndian.Uint64(k)
		var err error
		if cells, err = decodeCells(cells, v, len(s.schema.Columns)); err != nil {
			return fmt.Errorf("record %d: %w", id, err)
		}
		if err := fn(id, cells); err != nil {
			if err == errStopScan {
				return nil
			}
			return err
		}
	}
	return nil
}
