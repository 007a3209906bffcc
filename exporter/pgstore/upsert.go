package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/exportatscale/exportatscale/exporter"
)

// Upsert writes recs in one transaction: one INSERT … ON CONFLICT over arrays of every column, so
// a batch is stored wholly or not at all. Later records win over earlier ones with the same id,
// as in bbolt. group is not needed: PostgreSQL commits concurrent transactions together itself.
func (s *Store) Upsert(name string, recs []exporter.Record, group bool) error {
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
			if cells, err = exporter.DecodeCells(cells, r.Value, len(sc.Columns)); err != nil {
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
func copyUpsert(ctx context.Context, tx pgx.Tx, name string, sc exporter.Schema, stream []byte) error {
	stage := pgx.Identifier{"stage." + name}.Sanitize()
	names := []string{"id"}
	var set []string
	for _, c := range sc.Columns {
		col := pgx.Identifier{c.Name}.Sanitize()
		names = append(names, col)
		set = append(set, col+" = EXCLUDED."+col)
	}
	for i, c := range sc.Columns {
		if c.Type == exporter.TypeTimestamp {
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

// lastPerID drops every record that a later one with the same id replaces (ON CONFLICT cannot
// update one row twice in a statement).
func lastPerID(recs []exporter.Record) []exporter.Record {
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
	out := make([]exporter.Record, 0, len(last))
	for i, r := range recs {
		if last[r.ID] == i {
			out = append(out, r)
		}
	}
	return out
}

func pgUpsertSQL(name string, sc exporter.Schema) string {
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
		case exporter.TypeDecimal:
			sel = append(sel, param("text")+"::numeric")
		default:
			sel = append(sel, param(pgTypes[c.Type]))
		}
	}
	for i, c := range sc.Columns {
		if c.Type == exporter.TypeTimestamp {
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
	sc    exporter.Schema
	ids   []int64
	cols  []any // per schema column: *[]string, *[]int64, *[]time.Time or *[]bool
	nanos []*[]int16
	args  []any
}

func newPGColumns(sc exporter.Schema, n int) *pgColumns {
	c := &pgColumns{sc: sc, ids: make([]int64, 0, n)}
	c.args = append(c.args, &c.ids)
	for _, col := range sc.Columns {
		var v any
		switch col.Type {
		case exporter.TypeString, exporter.TypeDecimal:
			s := make([]string, 0, n)
			v = &s
		case exporter.TypeInt:
			s := make([]int64, 0, n)
			v = &s
		case exporter.TypeTimestamp:
			s := make([]time.Time, 0, n)
			v = &s
		case exporter.TypeBool:
			s := make([]bool, 0, n)
			v = &s
		}
		c.cols = append(c.cols, v)
		c.args = append(c.args, v)
	}
	for _, col := range sc.Columns {
		if col.Type == exporter.TypeTimestamp {
			s := make([]int16, 0, n)
			c.nanos = append(c.nanos, &s)
			c.args = append(c.args, &s)
		}
	}
	return c
}

// add appends one record's cells (their canonical text, see exporter.Type).
func (c *pgColumns) add(id uint64, cells [][]byte) error {
	c.ids = append(c.ids, int64(id))
	ns := 0
	for i, col := range c.sc.Columns {
		cell := cells[i]
		switch col.Type {
		case exporter.TypeString, exporter.TypeDecimal:
			p := c.cols[i].(*[]string)
			*p = append(*p, string(cell))
		case exporter.TypeInt:
			n, err := strconv.ParseInt(string(cell), 10, 64)
			if err != nil {
				return fmt.Errorf("record %d: %w", id, exporter.ErrCorrupt)
			}
			p := c.cols[i].(*[]int64)
			*p = append(*p, n)
		case exporter.TypeTimestamp:
			t, err := time.Parse(time.RFC3339Nano, string(cell))
			if err != nil {
				return fmt.Errorf("record %d: %w", id, exporter.ErrCorrupt)
			}
			p := c.cols[i].(*[]time.Time)
			*p = append(*p, t.Truncate(time.Microsecond))
			q := c.nanos[ns]
			*q = append(*q, int16(t.Nanosecond()%1000))
			ns++
		case exporter.TypeBool:
			p := c.cols[i].(*[]bool)
			*p = append(*p, string(cell) == "true")
		}
	}
	return nil
}
