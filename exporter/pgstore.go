package exporter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
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
)

// ErrStoreUnavailable wraps a store operation that failed because the database cannot be reached
// (down, restarting, refusing connections). The request was not acknowledged: an ingest is stored
// wholly or not at all, and a retry of it is safe.
var ErrStoreUnavailable = errors.New("the store is unavailable")

// The PostgreSQL store keeps each dataset in a real table, datasets."<name>", with one typed
// column per declared column (pgTypes) and id as its bigint primary key; the schemas are in the
// catalog table exporter.datasets. timestamptz keeps microseconds, so a timestamp column has a
// companion column "ns.<i>" (i: the column's position in the schema) with the 0–999 nanoseconds
// beyond them, which the exporter adds back on export.
var pgTypes = map[Type]string{
	TypeString:    "text",
	TypeInt:       "bigint",
	TypeDecimal:   "numeric",
	TypeTimestamp: "timestamptz",
	TypeBool:      "boolean",
}

// pgStore is the Store over PostgreSQL. Exporters over one database are stateless: any number of
// them can serve it at once.
type pgStore struct {
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

	// ackEarly, set only by a fault build (faults_ackearly.go), acknowledges an ingest before
	// its transaction commits: the broken exporter the harness must catch.
	ackEarly bool
}

const (
	pgOpTimeout    = 30 * time.Second // one schema, count or ingest statement
	pgReadyTimeout = 2 * time.Second
	// pgCatalogLock is the advisory lock held while creating the catalog, so replicas starting
	// together do not race on CREATE … IF NOT EXISTS.
	pgCatalogLock = 0x6578706f72746572 // "exporter"
)

// OpenPostgres opens the store in the database dsn names. The database may be down: the store then
// answers ErrStoreUnavailable (and Ready false) until it comes up, and creates its catalog then.
// maxConns bounds the pool; each export in flight holds one connection.
func OpenPostgres(dsn string, maxConns int) (Store, error) {
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
	s := &pgStore{pool: pool, connCfg: cfg.ConnConfig.Copy()}
	applyPGFaults(s)
	ctx, cancel := context.WithTimeout(context.Background(), pgOpTimeout)
	defer cancel()
	if err := s.init(ctx); err != nil && !errors.Is(err, ErrStoreUnavailable) {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// init creates the catalog once per process; until it succeeds every operation tries again.
func (s *pgStore) init(ctx context.Context) error {
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
	if err == nil || errors.Is(err, ErrStoreUnavailable) || errors.Is(err, ErrStoreFull) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "53100": // disk_full
			return fmt.Errorf("%w: %w", ErrStoreFull, err)
		case strings.HasPrefix(pe.Code, "08"), // connection exceptions
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // admin shutdown, crash shutdown, cannot connect now
			pe.Code == "53300",                     // too many connections
			pe.Code == "40001", pe.Code == "40P01": // serialization failure, deadlock: retry
			return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
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
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	return err
}

func (s *pgStore) ready(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("%w: closed", ErrStoreUnavailable)
	}
	return s.init(ctx)
}

func pgTable(name string) string { return "datasets." + pgx.Identifier{name}.Sanitize() }

func pgNanos(i int) string { return pgx.Identifier{"ns." + strconv.Itoa(i)}.Sanitize() }

func (s *pgStore) PutSchema(name string, sc Schema) (bool, error) {
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
			var prev Schema
			if err := json.Unmarshal(old, &prev.Columns); err != nil {
				return err
			}
			if !prev.equal(sc) {
				return ErrSchemaConflict
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
			if c.Type == TypeTimestamp {
				fmt.Fprintf(&ddl, ", %s smallint NOT NULL DEFAULT 0 CHECK (%[1]s BETWEEN 0 AND 999)", pgNanos(i))
			}
		}
		ddl.WriteString(")")
		if _, err := tx.Exec(ctx, ddl.String()); err != nil {
			return err
		}
		for i, c := range sc.Columns {
			if c.Type == TypeTimestamp {
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

func (s *pgStore) Schema(name string) (Schema, error) {
	if v, ok := s.schemas.Load(name); ok {
		return v.(Schema), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), pgOpTimeout)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return Schema{}, err
	}
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT columns FROM exporter.datasets WHERE name = $1`, name).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return Schema{}, ErrNotFound
	}
	if err != nil {
		return Schema{}, pgError(err)
	}
	var sc Schema
	if err := json.Unmarshal(raw, &sc.Columns); err != nil {
		return Schema{}, err
	}
	s.schemas.Store(name, sc)
	return sc, nil
}

// Counts counts every dataset's rows in one snapshot.
func (s *pgStore) Counts() (map[string]uint64, error) {
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

// Upsert writes recs in one transaction: one INSERT … ON CONFLICT over arrays of every column, so
// a batch is stored wholly or not at all. Later records win over earlier ones with the same id,
// as in bbolt. group is not needed: PostgreSQL commits concurrent transactions together itself.
func (s *pgStore) Upsert(name string, recs []Record, group bool) error {
	sc, err := s.Schema(name)
	if err != nil {
		return err
	}
	recs = lastPerID(recs)
	var cols *pgColumns
	var stream []byte
	if len(recs) < pgCopyFrom {
		cols = newPGColumns(sc, len(recs))
		cells := make([][]byte, 0, len(sc.Columns))
		for _, r := range recs {
			if cells, err = decodeCells(cells, r.Value, len(sc.Columns)); err != nil {
				return err
			}
			if err := cols.add(r.ID, cells); err != nil {
				return err
			}
		}
	} else if stream, err = copyBatch(nil, sc, recs); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), pgOpTimeout)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return err
	}
	write := func(ctx context.Context) error {
		if len(recs) < pgCopyFrom {
			_, err := s.pool.Exec(ctx, pgUpsertSQL(name, sc), cols.args...)
			return err
		}
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return copyInsert(ctx, tx, name, stream) })
		if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "23505" { // unique_violation: some ids exist
			err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return copyUpsert(ctx, tx, name, sc, stream) })
		}
		return err
	}
	if s.ackEarly {
		go func() { // the fault: the caller is told "stored" before anything is
			ctx, cancel := context.WithTimeout(context.Background(), pgOpTimeout)
			defer cancel()
			time.Sleep(ackEarlyDelay)
			write(ctx)
		}()
		return nil
	}
	return pgError(write(ctx))
}

// copyInsert is the fast path of a batch of new ids, the common case of a load: a binary COPY
// straight into the table. A batch with an id that is stored already fails on the primary key
// with a unique violation, nothing written, and copyUpsert does it instead.
func copyInsert(ctx context.Context, tx pgx.Tx, name string, stream []byte) error {
	_, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(stream), "COPY "+pgTable(name)+" FROM STDIN (FORMAT binary)")
	return err
}

// pgCopyFrom is the batch size from which an upsert goes through COPY into a staging table: one
// array parameter per column (pgUpsertSQL) costs PostgreSQL several times as much per row.
const pgCopyFrom = 64

// copyUpsert sends the batch with a binary COPY into a temporary staging table of the
// connection shaped like the dataset's (emptied at every commit), then upserts it from there in
// one statement.
func copyUpsert(ctx context.Context, tx pgx.Tx, name string, sc Schema, stream []byte) error {
	stage := pgx.Identifier{"stage." + name}.Sanitize()
	names := []string{"id"}
	var set []string
	for _, c := range sc.Columns {
		col := pgx.Identifier{c.Name}.Sanitize()
		names = append(names, col)
		set = append(set, col+" = EXCLUDED."+col)
	}
	for i, c := range sc.Columns {
		if c.Type == TypeTimestamp {
			names = append(names, pgNanos(i))
			set = append(set, pgNanos(i)+" = EXCLUDED."+pgNanos(i))
		}
	}
	cols := strings.Join(names, ", ")
	create := fmt.Sprintf("CREATE TEMP TABLE IF NOT EXISTS %s ON COMMIT DELETE ROWS AS SELECT %s FROM %s WITH NO DATA", stage, cols, pgTable(name))
	if _, err := tx.Exec(ctx, create); err != nil {
		return err
	}
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(stream), "COPY "+stage+" FROM STDIN (FORMAT binary)"); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s ON CONFLICT (id) DO UPDATE SET %s",
		pgTable(name), cols, cols, stage, strings.Join(set, ", ")))
	return err
}

// ackEarlyDelay is how long the ack-before-commit fault holds a write before sending it.
const ackEarlyDelay = 500 * time.Millisecond

// lastPerID drops every record that a later one with the same id replaces (ON CONFLICT cannot
// update one row twice in a statement).
func lastPerID(recs []Record) []Record {
	if len(recs) < 2 {
		return recs
	}
	last := make(map[uint64]int, len(recs))
	for i, r := range recs {
		last[r.ID] = i
	}
	if len(last) == len(recs) {
		return recs
	}
	out := make([]Record, 0, len(last))
	for i, r := range recs {
		if last[r.ID] == i {
			out = append(out, r)
		}
	}
	return out
}

func pgUpsertSQL(name string, sc Schema) string {
	var names, params, sel, set []string
	names = append(names, "id")
	params = append(params, "$1::bigint[]")
	sel = append(sel, "u.c0")
	n := 1
	param := func(pgType string) string {
		n++
		params = append(params, fmt.Sprintf("$%d::%s[]", n, pgType))
		return fmt.Sprintf("u.c%d", n-1)
	}
	for _, c := range sc.Columns {
		col := pgx.Identifier{c.Name}.Sanitize()
		names = append(names, col)
		set = append(set, col+" = EXCLUDED."+col)
		switch c.Type {
		case TypeDecimal:
			sel = append(sel, param("text")+"::numeric")
		default:
			sel = append(sel, param(pgTypes[c.Type]))
		}
	}
	for i, c := range sc.Columns {
		if c.Type == TypeTimestamp {
			col := pgNanos(i)
			names = append(names, col)
			set = append(set, col+" = EXCLUDED."+col)
			sel = append(sel, param("smallint"))
		}
	}
	aliases := make([]string, n)
	for i := range aliases {
		aliases[i] = fmt.Sprintf("c%d", i)
	}
	return fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM unnest(%s) AS u(%s) ON CONFLICT (id) DO UPDATE SET %s",
		pgTable(name), strings.Join(names, ", "), strings.Join(sel, ", "), strings.Join(params, ", "),
		strings.Join(aliases, ", "), strings.Join(set, ", "))
}

// pgColumns gathers a batch column by column, in the order of pgUpsertSQL's parameters.
type pgColumns struct {
	sc    Schema
	ids   []int64
	cols  []any // per schema column: *[]string, *[]int64, *[]time.Time or *[]bool
	nanos []*[]int16
	args  []any
}

func newPGColumns(sc Schema, n int) *pgColumns {
	c := &pgColumns{sc: sc, ids: make([]int64, 0, n)}
	c.args = append(c.args, &c.ids)
	for _, col := range sc.Columns {
		var v any
		switch col.Type {
		case TypeString, TypeDecimal:
			s := make([]string, 0, n)
			v = &s
		case TypeInt:
			s := make([]int64, 0, n)
			v = &s
		case TypeTimestamp:
			s := make([]time.Time, 0, n)
			v = &s
		case TypeBool:
			s := make([]bool, 0, n)
			v = &s
		}
		c.cols = append(c.cols, v)
		c.args = append(c.args, v)
	}
	for _, col := range sc.Columns {
		if col.Type == TypeTimestamp {
			s := make([]int16, 0, n)
			c.nanos = append(c.nanos, &s)
			c.args = append(c.args, &s)
		}
	}
	return c
}

// add appends one record's cells (their canonical text, see cellText).
func (c *pgColumns) add(id uint64, cells [][]byte) error {
	c.ids = append(c.ids, int64(id))
	ns := 0
	for i, col := range c.sc.Columns {
		cell := cells[i]
		switch col.Type {
		case TypeString, TypeDecimal:
			p := c.cols[i].(*[]string)
			*p = append(*p, string(cell))
		case TypeInt:
			n, err := strconv.ParseInt(string(cell), 10, 64)
			if err != nil {
				return fmt.Errorf("record %d: %w", id, errCorrupt)
			}
			p := c.cols[i].(*[]int64)
			*p = append(*p, n)
		case TypeTimestamp:
			t, err := time.Parse(time.RFC3339Nano, string(cell))
			if err != nil {
				return fmt.Errorf("record %d: %w", id, errCorrupt)
			}
			p := c.cols[i].(*[]time.Time)
			*p = append(*p, t.Truncate(time.Microsecond))
			q := c.nanos[ns]
			*q = append(*q, int16(t.Nanosecond()%1000))
			ns++
		case TypeBool:
			p := c.cols[i].(*[]bool)
			*p = append(*p, string(cell) == "true")
		}
	}
	return nil
}

// View runs fn in one REPEATABLE READ READ ONLY transaction: one snapshot for the whole export.
func (s *pgStore) View(name string, fn func(Snapshot) error) error {
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

func (s *pgStore) Ready() bool {
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

func (s *pgStore) Close() error {
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

type pgSnapshot struct {
	ctx    context.Context
	tx     pgx.Tx
	name   string
	schema Schema
	rows   int64
}

func (s *pgSnapshot) Schema() Schema { return s.schema }

func (s *pgSnapshot) Rows() uint64 {
	if s.rows < 0 {
		if err := s.tx.QueryRow(s.ctx, "SELECT count(*) FROM "+pgTable(s.name)).Scan(&s.rows); err != nil {
			s.rows = 0
		}
	}
	return uint64(s.rows)
}

// Scan streams the rows with a binary COPY of the primary key range, turning each row into
// the canonical cell texts that the encoders take: a string's cell is its field as received, the
// others are formatted into one buffer of the decoder, all valid until fn returns.
func (s *pgSnapshot) Scan(after uint64, limit int64, fn func(id uint64, cells [][]byte) error) error {
	return s.copyScan(after, limit, newCopyDecoder(s.schema, fn))
}

// copyScan streams the rows whose ids follow after (at most limit of them, if not negative) in id
// order, with a binary COPY, through d.
func (s *pgSnapshot) copyScan(after uint64, limit int64, d *copyDecoder) error {
	if after >= 1<<63-1 || limit == 0 {
		return nil
	}
	var sel strings.Builder
	sel.WriteString("id")
	for _, c := range s.schema.Columns {
		sel.WriteString(", ")
		sel.WriteString(pgx.Identifier{c.Name}.Sanitize())
	}
	for i, c := range s.schema.Columns {
		if c.Type == TypeTimestamp {
			sel.WriteString(", " + pgNanos(i))
		}
	}
	sql := fmt.Sprintf("COPY (SELECT %s FROM %s WHERE id > %d ORDER BY id", sel.String(), pgTable(s.name), after)
	if limit > 0 {
		sql += " LIMIT " + strconv.FormatInt(limit, 10)
	}
	sql += ") TO STDOUT (FORMAT binary)"

	// The COPY is received on a goroutine of its own, in chunks, while this one decodes the rows
	// and fn encodes and sends them: the database, the decoding and the client's socket each keep
	// going instead of taking turns. At most pgChunks chunks are in flight, so memory stays bounded.
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	chunks := make(chan []byte, pgChunks)
	free := make(chan []byte, pgChunks+2)
	var copyErr error
	go func() {
		defer close(chunks)
		cw := &chunkWriter{ctx: ctx, out: chunks, free: free}
		end := batchReads(s.tx.Conn().PgConn().Conn(), pgReadMark, &cw.n)
		_, copyErr = s.tx.Conn().PgConn().CopyTo(ctx, cw, sql)
		end()
		if copyErr == nil {
			copyErr = cw.flush()
		}
	}()
	for c := range chunks {
		if d.err == nil {
			if _, err := d.Write(c); err != nil {
				cancel() // fn's error (a stop, the client gone) ends the COPY
			}
		}
		select {
		case free <- c[:0]:
		default:
		}
	}
	if d.err != nil { // fn's own error comes first
		if d.err == errStopScan {
			return nil
		}
		return d.err
	}
	if copyErr != nil {
		return pgError(copyErr)
	}
	return d.finish()
}

// pgChunks and pgChunkSize bound what a scan holds of the COPY stream: 4 chunks of 1 MiB.
const (
	pgChunks    = 4
	pgChunkSize = 1 << 20
)

// chunkWriter gathers the COPY stream's messages (one per row) into chunks for the decoder.
type chunkWriter struct {
	ctx  context.Context
	out  chan<- []byte
	free chan []byte
	buf  []byte
	n    atomic.Int64 // bytes written
}

// pgReadMark is the low-water mark of an export's connection while its COPY streams (see
// batchReads).
const pgReadMark = 64 << 10

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	if w.buf == nil {
		select {
		case w.buf = <-w.free:
		default:
			w.buf = make([]byte, 0, pgChunkSize)
		}
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= pgChunkSize-16<<10 {
		if err := w.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (w *chunkWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	select {
	case w.out <- w.buf:
		w.buf = nil
		return nil
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
}

// copyDecoder parses PostgreSQL's binary COPY stream (header, tuples, trailer) as it arrives, in
// whatever pieces it arrives, and hands each tuple on to fn as cells.
type copyDecoder struct {
	schema  Schema
	fn      func(id uint64, cells [][]byte) error
	pending []byte // an incomplete tuple carried over from the last write
	header  bool
	done    bool
	err     error    // from fn: ends the COPY
	text    []byte   // the texts of the cells that are not strings, end to end
	ends    []int    // per column: the end of its cell in text
	cells   [][]byte // into text, or into the received fields for strings
	fields  [][]byte
	nanoIdx []int // per schema column: the index of its nanoseconds field, or -1
}

var pgCopySignature = []byte("PGCOPY\n\xff\r\n\x00")

func newCopyDecoder(sc Schema, fn func(uint64, [][]byte) error) *copyDecoder {
	d := &copyDecoder{schema: sc, fn: fn, nanoIdx: make([]int, len(sc.Columns)), cells: make([][]byte, len(sc.Columns)), ends: make([]int, len(sc.Columns))}
	next := 1 + len(sc.Columns)
	for i, c := range sc.Columns {
		d.nanoIdx[i] = -1
		if c.Type == TypeTimestamp {
			d.nanoIdx[i] = next
			next++
		}
	}
	d.fields = make([][]byte, next)
	return d
}

func (d *copyDecoder) Write(p []byte) (int, error) {
	n := len(p)
	if len(d.pending) > 0 {
		d.pending = append(d.pending, p...)
		p = d.pending
	}
	rest, err := d.parse(p)
	if err != nil {
		if d.err == nil {
			d.err = err
		}
		return 0, err
	}
	d.pending = append(d.pending[:0], rest...)
	return n, nil
}

// parse consumes every complete part of b and returns what is left.
func (d *copyDecoder) parse(b []byte) ([]byte, error) {
	if !d.header {
		const fixed = 11 + 4 + 4
		if len(b) < fixed {
			return b, nil
		}
		if string(b[:11]) != string(pgCopySignature) {
			return nil, errors.New("postgres: not a binary COPY stream")
		}
		ext := binary.BigEndian.Uint32(b[15:19])
		if uint32(len(b)-fixed) < ext {
			return b, nil
		}
		b = b[fixed+int(ext):]
		d.header = true
	}
	for len(b) >= 2 {
		count := int16(binary.BigEndian.Uint16(b))
		if count == -1 {
			d.done = true
			return b[2:], nil
		}
		if int(count) != len(d.fields) {
			return nil, fmt.Errorf("postgres: a COPY row of %d fields, want %d", count, len(d.fields))
		}
		pos := 2
		complete := true
		for i := range d.fields {
			if len(b)-pos < 4 {
				complete = false
				break
			}
			l := int32(binary.BigEndian.Uint32(b[pos:]))
			pos += 4
			if l < 0 {
				return nil, errors.New("postgres: a NULL in a NOT NULL column")
			}
			if len(b)-pos < int(l) {
				complete = false
				break
			}
			d.fields[i] = b[pos : pos+int(l)]
			pos += int(l)
		}
		if !complete {
			return b, nil
		}
		if err := d.row(); err != nil {
			return nil, err
		}
		b = b[pos:]
	}
	return b, nil
}

// row turns the fields of one tuple into cell texts and hands them on.
func (d *copyDecoder) row() error {
	f := d.fields
	if len(f[0]) != 8 {
		return errCorrupt
	}
	id := binary.BigEndian.Uint64(f[0])
	// A string's cell is its field as received (no copy); the other cells are written into
	// text, their ends kept in d.ends until text has stopped growing.
	text := d.text[:0]
	for i, c := range d.schema.Columns {
		if c.Type == TypeString {
			d.cells[i] = f[1+i][:len(f[1+i]):len(f[1+i])]
			continue
		}
		var err error
		if text, err = pgCellText(text, c.Type, f[1+i], d.nanos(i)); err != nil {
			return fmt.Errorf("record %d: %w", id, err)
		}
		d.ends[i] = len(text)
	}
	d.text = text
	at := 0
	for i, c := range d.schema.Columns {
		if c.Type != TypeString {
			d.cells[i] = text[at:d.ends[i]:d.ends[i]]
			at = d.ends[i]
		}
	}
	return d.fn(id, d.cells)
}

func (d *copyDecoder) nanos(i int) int {
	if d.nanoIdx[i] < 0 {
		return 0
	}
	b := d.fields[d.nanoIdx[i]]
	if len(b) != 2 {
		return 0
	}
	return int(int16(binary.BigEndian.Uint16(b)))
}

func (d *copyDecoder) finish() error {
	if !d.done || len(d.pending) != 0 {
		return fmt.Errorf("%w: the COPY stream ended early", ErrStoreUnavailable)
	}
	return nil
}

// pgEpochMicros is 2000-01-01T00:00:00Z, PostgreSQL's epoch, in Unix microseconds.
const pgEpochMicros = 946684800_000_000

// pgCellText appends the canonical cell text (cellText's) of one binary COPY field of type t.
func pgCellText(dst []byte, t Type, b []byte, nanos int) ([]byte, error) {
	switch t {
	case TypeString:
		return append(dst, b...), nil
	case TypeInt:
		if len(b) != 8 {
			return dst, errCorrupt
		}
		return strconv.AppendInt(dst, int64(binary.BigEndian.Uint64(b)), 10), nil
	case TypeBool:
		if len(b) != 1 {
			return dst, errCorrupt
		}
		return strconv.AppendBool(dst, b[0] != 0), nil
	case TypeTimestamp:
		if len(b) != 8 {
			return dst, errCorrupt
		}
		return appendTimestamp(dst, int64(binary.BigEndian.Uint64(b))+pgEpochMicros, nanos), nil
	case TypeDecimal:
		return numericText(dst, b)
	}
	return dst, errCorrupt
}

// numericText appends the text of a binary numeric: ndigits, weight, sign and display scale, then
// ndigits base-10000 digits, the first of weight 10000^weight. The text has exactly dscale
// fractional digits, as PostgreSQL's own output does.
func numericText(dst, b []byte) ([]byte, error) {
	if len(b) < 8 {
		return dst, errCorrupt
	}
	ndigits := int(binary.BigEndian.Uint16(b))
	weight := int(int16(binary.BigEndian.Uint16(b[2:])))
	sign := binary.BigEndian.Uint16(b[4:])
	dscale := int(binary.BigEndian.Uint16(b[6:]))
	if len(b) != 8+2*ndigits || (sign != 0 && sign != 0x4000) {
		return dst, errCorrupt // NaN and the infinities are never stored
	}
	for k := range ndigits {
		if binary.BigEndian.Uint16(b[8+2*k:]) > 9999 {
			return dst, errCorrupt
		}
	}
	digit := func(k int) int {
		if k < 0 || k >= ndigits {
			return 0
		}
		return int(binary.BigEndian.Uint16(b[8+2*k:]))
	}
	if sign == 0x4000 && ndigits > 0 {
		dst = append(dst, '-')
	}
	if weight < 0 || ndigits == 0 {
		dst = append(dst, '0')
	} else {
		dst = appendLead(dst, digit(0))
		for k := 1; k <= weight; k++ {
			dst = appendFour(dst, digit(k), 4)
		}
	}
	if dscale > 0 {
		dst = append(dst, '.')
		for p, left := 1, dscale; left > 0; p++ {
			d := digit(weight + p)
			dst = appendFour(dst, d, min(4, left))
			left -= 4
		}
	}
	return dst, nil
}

// appendLead appends a base-10000 digit d (0–9999) without leading zeros.
func appendLead(dst []byte, d int) []byte {
	switch {
	case d >= 1000:
		return appendFour(dst, d, 4)
	case d >= 100:
		return append(dst, byte('0'+d/100), decimalPairs[2*(d%100)], decimalPairs[2*(d%100)+1])
	case d >= 10:
		return append(dst, decimalPairs[2*d], decimalPairs[2*d+1])
	}
	return append(dst, byte('0'+d))
}

// appendFour appends the first n of the four decimal digits of a base-10000 digit d (0–9999).
func appendFour(dst []byte, d, n int) []byte {
	hi, lo := d/100, d%100
	four := [4]byte{decimalPairs[2*hi], decimalPairs[2*hi+1], decimalPairs[2*lo], decimalPairs[2*lo+1]}
	return append(dst, four[:n]...)
}

// appendTimestamp appends the RFC 3339 UTC text of a moment given as Unix microseconds and the
// nanoseconds beyond them, as time.RFC3339Nano formats it (fraction without trailing zeros), for
// the years 0000–9999 that ingest allows; a few times faster than time.Time.AppendFormat.
func appendTimestamp(dst []byte, micros int64, nanos int) []byte {
	const microsPerDay = 86400 * 1_000_000
	days := micros / microsPerDay
	rem := micros % microsPerDay
	if rem < 0 {
		days--
		rem += microsPerDay
	}
	// Days since 1970-01-01 to the civil date (H. Hinnant's algorithm, proleptic Gregorian).
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day := doy - (153*mp+2)/5 + 1
	month := mp + 3
	if month > 12 {
		month -= 12
	}
	year := yoe + era*400
	if month <= 2 {
		year++
	}
	secs := int(rem / 1_000_000)
	frac := int(rem%1_000_000)*1000 + nanos
	// Into an array first, two digits at a time from decimalPairs, then appended at once.
	var b [30]byte
	pair := func(at, v int) { b[at], b[at+1] = decimalPairs[2*v], decimalPairs[2*v+1] }
	pair(0, int(year/100))
	pair(2, int(year%100))
	b[4] = '-'
	pair(5, int(month))
	b[7] = '-'
	pair(8, int(day))
	b[10] = 'T'
	pair(11, secs/3600)
	b[13] = ':'
	pair(14, secs/60%60)
	b[16] = ':'
	pair(17, secs%60)
	n := 19
	if frac > 0 {
		b[19] = '.'
		hi, mid, lo := frac/1_000_000, frac/1000%1000, frac%1000
		b[20] = byte('0' + hi/100)
		pair(21, hi%100)
		b[23] = byte('0' + mid/100)
		pair(24, mid%100)
		b[26] = byte('0' + lo/100)
		pair(27, lo%100)
		n = 29
		for b[n-1] == '0' { // no trailing zeros; frac > 0, so a digit other than 0 stops it
			n--
		}
	}
	b[n] = 'Z'
	return append(dst, b[:n+1]...)
}

// decimalPairs holds the two-digit texts of 0 to 99, end to end.
const decimalPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"
