package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/exporter"
	"github.com/exportatscale/exportatscale/internal/pgtmp"
)

// BenchmarkPostgresExportCSV streams the same 1,000,000 trades as BenchmarkExportCSV from the
// PostgreSQL store, from a freshly started exporter, and times side by side psql's
// `\copy (SELECT …) TO STDOUT WITH (FORMAT csv)` of the same rows in id order, read to the end by
// this process as the exporter's export is: each op is one export, then one psql run, so both
// meet the same machine; each reports its median over the ops, and x-psql is their ratio. Both
// read the rows in primary-key order (enable_sort off for psql too, as the exporter sets it).
// peak-RSS-MiB (VmHWM) is the judged figure: this store maps no file, so the resident set is the
// process's own.
func BenchmarkPostgresExportCSV(b *testing.B) {
	pg := pgtmp.ForTest(b, pgtmp.Options{}) // durable: fsync on
	dsn := pg.DSN("postgres")
	s := start(b, b.TempDir(), "--postgres-dsn", dsn)
	s.seed(b, csvRows, 50_000)
	s.stop()
	s = start(b, b.TempDir(), "--postgres-dsn", dsn)
	anon := s.sampleAnon()
	var ours, theirs []float64
	var n int64
	for b.Loop() {
		t0 := time.Now()
		rows, bytes := s.export(b, "format=csv")
		took := time.Since(t0)
		if rows != csvRows {
			b.Fatalf("exported %d rows, want %d", rows, csvRows)
		}
		ours, n = append(ours, took.Seconds()), bytes
		b.StopTimer()
		psql, err := psqlSeconds(pg)
		if err != nil {
			b.Fatalf("psql comparison: %v", err)
		}
		theirs = append(theirs, psql)
		b.StartTimer()
	}
	b.ReportMetric(csvRows/median(ours), "rows/s")
	b.ReportMetric(float64(n)/median(ours)/1e6, "MB/s")
	b.ReportMetric(anon.peakMiB(b), "peak-RssAnon-MiB")
	b.ReportMetric(s.vmHWM(b)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(csvRows/median(theirs), "psql-rows/s")
	b.ReportMetric(median(theirs)/median(ours), "x-psql")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkPostgresExportCSVInProcess is BenchmarkExportCSVInProcess over the PostgreSQL store:
// the same 1,000,000 trades, the exporter in the benchmark's process, for profiling with
// -cpuprofile and -tagfocus side=server.
func BenchmarkPostgresExportCSVInProcess(b *testing.B) {
	pg := pgtmp.ForTest(b, pgtmp.Options{})
	dsn := pg.DSN("postgres")
	s := start(b, b.TempDir(), "--postgres-dsn", dsn)
	s.seed(b, csvRows, 50_000)
	s.stop()
	cfg := exporter.DefaultConfig()
	cfg.PostgresDSN = dsn
	exportInProcess(b, cfg)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// psqlSeconds times psql exporting the dataset's table as CSV once.
func psqlSeconds(pg *pgtmp.Cluster) (float64, error) {
	bin, err := pgtmp.BinDir()
	if err != nil {
		return 0, err
	}
	psql := filepath.Join(bin, "psql")
	if _, err := os.Stat(psql); err != nil {
		if psql, err = exec.LookPath("psql"); err != nil {
			return 0, err
		}
	}
	cols := "id, trade_ts, account, symbol, side, quantity, price, notional, currency, status, is_amended, note"
	copyCmd := `\copy (SELECT ` + cols + ` FROM datasets.t ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)`
	{
		cmd := exec.Command(psql, "-X", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(pg.Port), "-U", "postgres", "-d", "postgres", "-c", copyCmd)
		cmd.Env = append(os.Environ(), "PGOPTIONS=-c enable_sort=off")
		out, err := cmd.StdoutPipe()
		if err != nil {
			return 0, err
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		lines, err := countLines(out)
		if werr := cmd.Wait(); werr != nil || err != nil {
			return 0, fmt.Errorf("psql: %v %v: %s", werr, err, stderr.String())
		}
		took := time.Since(t0)
		if lines < csvRows {
			return 0, fmt.Errorf("psql wrote %d lines, want at least %d", lines, csvRows)
		}
		return took.Seconds(), nil
	}
}

// countLines reads r to the end in 1 MiB reads, as the exporter's client reads its export.
func countLines(r io.Reader) (int, error) {
	buf := make([]byte, 1<<20)
	n := 0
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// BenchmarkPostgresIngestBatch loads NDJSON batches of 10,000 records into the PostgreSQL store.
func BenchmarkPostgresIngestBatch(b *testing.B) {
	const n = 200_000
	pg := pgtmp.ForTest(b, pgtmp.Options{}) // durable: fsync on
	var took time.Duration
	i := 0
	for b.Loop() {
		i++
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		dsn, err := pg.CreateDatabase(ctx, fmt.Sprintf("ingest_%d", i))
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		s := start(b, b.TempDir(), "--postgres-dsn", dsn)
		took = s.seed(b, n, 10_000)
		s.stop()
	}
	b.ReportMetric(n/took.Seconds(), "records/s")
	b.ReportMetric(0, "ns/op")
}
