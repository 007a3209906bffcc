// Package pgstore is the exporter's store over PostgreSQL, for stateless replicas sharing one
// database: each dataset is a table of typed columns (store.go), batches go in as a binary COPY
// or one INSERT … ON CONFLICT (upsert.go), an export reads one REPEATABLE READ snapshot as a
// binary COPY in id order (snapshot.go), decoded as it arrives (copy.go, the COPY codec) into
// the canonical cell texts (values.go, numeric and timestamp text), with the socket's low-water
// mark raised while the stream flows (lowat_linux.go).
package pgstore

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/exportatscale/exportatscale/exporter"
)

// The PostgreSQL store keeps each dataset in a real table, datasets."<name>", with one typed
// column per declared column (pgTypes) and id as its bigint primary key; the schemas are in the
// catalog table exporter.datasets. timestamptz keeps microseconds, so a timestamp column has a
// companion column "ns.<i>" (i: the column's position in the schema) with the 0–999 nanoseconds
// beyond them, which the exporter adds back on export.
var pgTypes = map[exporter.Type]string{
	exporter.TypeString:    "text",
	exporter.TypeInt:       "bigint",
	exporter.TypeDecimal:   "numeric",
	exporter.TypeTimestamp: "timestamptz",
	exporter.TypeBool:      "boolean",
}

// Store is the exporter.Store over PostgreSQL. Exporters over one database are stateless: any number of
// them can serve it at once.
type Store struct {
	pool    *pgxpool.Pool
	schemas sync.Map // name → Schema; schemas never change once created
	closed  atomic.Bool

	initMu sync.Mutex
	inited bool

	// health is a connection of its own for Ready, so readiness reflects the database, not how
	// busy the pool is with exports.
	healthMu sync.Mutex
	health   *pgx.Conn
	connCfg  *pgx.ConnConfig
}

const (
	pgOpTimeout    = 30 * time.Second // one schema, count or ingest statement
	pgReadyTimeout = 2 * time.Second
	// pgCatalogLock is the advisory lock held while creating the catalog, so replicas starting
	// together do not race on CREATE … IF NOT EXISTS.
	pgCatalogLock = 0x6578706f72746572 // "exporter"
)

// Open opens the store in the database dsn names. The database may be down: the store then
// answers ErrStoreUnavailable (and Ready false) until it comes up, and creates its catalog then.
// maxConns bounds the pool; each export in flight holds one connection.
func Open(dsn string, maxConns int) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("--postgres-dsn: %w", err)
	}
	cfg.MaxConns = int32(max(maxConns, 4))
	cfg.ConnConfig.RuntimeParams["application_name"] = "exporter"
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	// An export is megabytes of COPY data arriving in the server's 8 KiB sends: read the socket
	// in large reads, not one syscall per 8 KiB.
	cfg.ConnConfig.BuildFrontend = func(r io.Reader, w io.Writer) *pgproto3.Frontend {
		return pgproto3.NewFrontend(bufio.NewReaderSize(r, 256<<10), w)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > 5*time.Second {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool, connCfg: cfg.ConnConfig.Copy()}
	ctx, cancel := context.WithTimeout(context.Background(), pgOpTimeout)
	defer cancel()
	if err := s.init(ctx); err != nil && !errors.Is(err, exporter.ErrStoreUnavailable) {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// init creates the catalog once per process; until it succeeds every operation tries again.
func (s *Store) init(ctx context.Context) error {
	s.initMu.Lock()
	defer s.initMu.Unlock()
	if s.inited {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, sql := range []string{
			`SELECT pg_advisory_xact_lock(` + strconv.Itoa(pgCatalogLock) + `)`,
			`CREATE SCHEMA IF NOT EXISTS exporter`,
			`CREATE SCHEMA IF NOT EXISTS datasets`,
			`CREATE TABLE IF NOT EXISTS exporter.datasets (
				name text PRIMARY KEY,
				columns jsonb NOT NULL,
				created timestamptz NOT NULL DEFAULT now())`,
		} {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return err
			}
		}
		return nil
	})
	if err = pgError(err); err == nil {
		s.inited = true
	}
	return err
}

// pgError classifies a database error: the database being unreachable or going down becomes
// ErrStoreUnavailable, a full disk ErrStoreFull; anything else (a bug) stays as it is, a 500.
func pgError(err error) error {
	if err == nil || errors.Is(err, exporter.ErrStoreUnavailable) || errors.Is(err, exporter.ErrStoreFull) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "53100": // disk_full
			return fmt.Errorf("%w: %w", exporter.ErrStoreFull, err)
		case strings.HasPrefix(pe.Code, "08"), // connection exceptions
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // admin shutdown, crash shutdown, cannot connect now
			pe.Code == "53300",                     // too many connections
			pe.Code == "40001", pe.Code == "40P01": // serialization failure, deadlock: retry
			return fmt.Errorf("%w: %w", exporter.ErrStoreUnavailable, err)
		}
		return err
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne), pgconn.Timeout(err), pgconn.SafeToRetry(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, context.DeadlineExceeded), strings.Contains(err.Error(), "conn closed"),
		strings.Contains(err.Error(), "closed pool"):
		return fmt.Errorf("%w: %w", exporter.ErrStoreUnavailable, err)
	}
	return err
}

func (s *Store) ready(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("%w: closed", exporter.ErrStoreUnavailable)
	}
	return s.init(ctx)
}

func pgTable(name string) string { return "datasets." + pgx.Identifier{name}.Sanitize() }

func pgNanos(i int) string { return pgx.Identifier{"ns." + strconv.Itoa(i)}.Sanitize() }

// PutSchema creates the dataset's table and its catalog row in one transaction, under an
// advisory lock on the name so that replicas creating the same dataset do not race.
func (s *Store) PutSchema(name string, sc exporter.Schema) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), pgOpTimeout)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return false, err
	}
	created := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, name); err != nil {
			return err
		}
		var old []byte
		switch err := tx.QueryRow(ctx, `SELECT columns FROM exporter.datasets WHERE name = $1`, name).Scan(&old); {
		case err == nil:
			var prev exporter.Schema
			if err := json.Unmarshal(old, &prev.Columns); err != nil {
				return err
			}
			if !prev.Equal(sc) {
				return exporter.ErrSchemaConflict
			}
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		var ddl strings.Builder
		fmt.Fprintf(&ddl, "CREATE TABLE %s (id bigint PRIMARY KEY", pgTable(name))
		for _, c := range sc.Columns {
			fmt.Fprintf(&ddl, ", %s %s NOT NULL", pgx.Identifier{c.Name}.Sanitize(), pgTypes[c.Type])
		}
		for i, c := range sc.Columns {
			if c.Type == exporter.TypeTimestamp {
				fmt.Fprintf(&ddl, ", %s smallint NOT NULL DEFAULT 0 CHECK (%[1]s BETWEEN 0 AND 999)", pgNanos(i))
			}
		}
		ddl.WriteString(")")
		if _, err := tx.Exec(ctx, ddl.String()); err != nil {
			return err
		}
		for i, c := range sc.Columns {
			if c.Type == exporter.TypeTimestamp {
				comment := fmt.Sprintf("COMMENT ON COLUMN %s.%s IS 'nanoseconds of %s beyond its microseconds'",
					pgTable(name), pgNanos(i), c.Name)
				if _, err := tx.Exec(ctx, comment); err != nil {
					return err
				}
			}
		}
		colsJSON, err := json.Marshal(sc.Columns)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO exporter.datasets (name, columns) VALUES ($1, $2)`, name, colsJSON); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return false, pgError(err)
	}
	return created, nil
}

// Schema returns the dataset's schema from the catalog, cached once read: a schema never changes.
func (s *Store) Schema(name string) (exporter.Schema, error) {
	if v, ok := s.schemas.Load(name); ok {
		return v.(exporter.Schema), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), pgOpTimeout)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return exporter.Schema{}, err
	}
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT columns FROM exporter.datasets WHERE name = $1`, name).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return exporter.Schema{}, exporter.ErrNotFound
	}
	if err != nil {
		return exporter.Schema{}, pgError(err)
	}
	var sc exporter.Schema
	if err := json.Unmarshal(raw, &sc.Columns); err != nil {
		return exporter.Schema{}, err
	}
	s.schemas.Store(name, sc)
	return sc, nil
}

// Counts counts every dataset's rows in one snapshot.
func (s *Store) Counts() (map[string]uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), pgOpTimeout)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT name FROM exporter.datasets ORDER BY name`)
		if err != nil {
			return err
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(names) == 0 {
			return err
		}
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("SELECT %d, count(*) FROM %s", i, pgTable(n))
		}
		rows, err = tx.Query(ctx, strings.Join(parts, " UNION ALL "))
		if err != nil {
			return err
		}
		var i int
		var n int64
		_, err = pgx.ForEachRow(rows, []any{&i, &n}, func() error {
			out[names[i]] = uint64(n)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, pgError(err)
	}
	return out, nil
}

// View runs fn in one REPEATABLE READ READ ONLY transaction: one snapshot for the whole export.
func (s *Store) View(name string, fn func(exporter.Snapshot) error) error {
	sc, err := s.Schema(name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	begin, cancelBegin := context.WithTimeout(ctx, pgOpTimeout)
	defer cancelBegin()
	tx, err := s.pool.BeginTx(begin, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return pgError(err)
	}
	defer tx.Rollback(context.Background())
	// An export walks the primary key in order; never a sort of the whole table instead.
	if _, err := tx.Exec(begin, "SET LOCAL enable_sort = off"); err != nil {
		return pgError(err)
	}
	snap := &pgSnapshot{ctx: ctx, tx: tx, name: name, schema: sc, rows: -1}
	return fn(snap)
}

// Ready reports whether the database answers, on a connection of its own (see health).
func (s *Store) Ready() bool {
	ctx, cancel := context.WithTimeout(context.Background(), pgReadyTimeout)
	defer cancel()
	if s.ready(ctx) != nil {
		return false
	}
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	if s.health == nil || s.health.IsClosed() {
		c, err := pgx.ConnectConfig(ctx, s.connCfg)
		if err != nil {
			return false
		}
		s.health = c
	}
	if err := s.health.Ping(ctx); err != nil {
		s.health.Close(context.Background())
		s.health = nil
		return false
	}
	return true
}

// Close closes the pool and the health connection; every operation fails from then on.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.pool.Close()
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	if s.health != nil {
		s.health.Close(context.Background())
		s.health = nil
	}
	return nil
}
