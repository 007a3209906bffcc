package exporter

import (
	"errors"
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
	// most limit records (all when limit < 0), until fn returns an error, which Scan returns.
	// cells holds the record's canonical cell texts (see [Type]), one per column of the schema.
	// They may alias the store's own buffers, so they are only valid until fn returns: a
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
)

// ErrStoreUnavailable wraps a store operation that failed because the database cannot be reached
// (down, restarting, refusing connections). The request was not acknowledged: an ingest is stored
// wholly or not at all, and a retry of it is safe.
var ErrStoreUnavailable = errors.New("the store is unavailable")
