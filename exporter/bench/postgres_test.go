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
	// A settled table for both sides: vacuumed (hint bits set, visibility map made, no autovacuum
	// of the fresh million rows competing with the ops) and checkpointed.
	if err := psqlRun(pg, "VACUUM (ANALYZE) datasets.t", "CHECKPOINT"); err != nil {
		b.Fatal(err)
	}
	s = start(b, b.TempDir(), "--postgres-dsn", dsn)
	anon := s.sampleAnon()
	var ours, theirs []float64
	var n int64
	var use, psqlUse usage // summed over the ops
	for b.Loop() {
		u0 := s.usage(b, pg)
		t0 := time.Now()
		rows, bytes := s.export(b, "format=csv")
		took := time.Since(t0)
		use.add(s.usage(b, pg).minus(u0))
		if rows != csvRows {
			b.Fatalf("exported %d rows, want %d", rows, csvRows)
		}
		ours, n = append(ours, took.Seconds()), bytes
		b.StopTimer()
		u0 = s.usage(b, pg)
		psql, err := psqlSeconds(pg)
		if err != nil {
			b.Fatalf("psql comparison: %v", err)
		}
		s.awaitReaped(b, pg, u0.backends) // psql's backend's time is in the postmaster's once reaped
		psqlUse.add(s.usage(b, pg).minus(u0))
		theirs = append(theirs, psql)
		b.StartTimer()
	}
	// Where the CPU went, per export: the exporter's process and the database's (every process of
	// the cluster), and the exporter's read syscalls; the database's for psql's export beside it.
	ops := float64(b.N)
	b.ReportMetric(use.exporterCPU/ops, "exporter-CPU-s/op")
	b.ReportMetric(use.reads/ops, "exporter-reads/op")
	b.ReportMetric(use.postgresCPU/ops, "postgres-CPU-s/op")
	b.ReportMetric(psqlUse.postgresCPU/ops, "psql-postgres-CPU-s/op")
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

// usage is CPU time (user and system, in seconds) and read syscalls, from /proc, and the number
// of the cluster's processes.
type usage struct {
	exporterCPU, reads, postgresCPU float64
	backends                        int
}

func (u *usage) add(v usage) {
	u.exporterCPU += v.exporterCPU
	u.reads += v.reads
	u.postgresCPU += v.postgresCPU
}

func (u usage) minus(v usage) usage {
	return usage{u.exporterCPU - v.exporterCPU, u.reads - v.reads, u.postgresCPU - v.postgresCPU, u.backends}
}

// usage reads the exporter's CPU time and read syscalls so far, and the CPU time of the cluster's
// postmaster and its children (the backends, psql's included, and the background processes).
func (s *server) usage(tb testing.TB, pg *pgtmp.Cluster) usage {
	var u usage
	st, err := procStat(s.cmd.Process.Pid)
	if err != nil {
		tb.Fatal(err)
	}
	u.exporterCPU = st.cpu
	io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", s.cmd.Process.Pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(io), "\n") {
		if v, ok := strings.CutPrefix(l, "syscr: "); ok {
			u.reads, _ = strconv.ParseFloat(v, 64)
		}
	}
	pidFile, err := os.ReadFile(filepath.Join(pg.Dir, "data", "postmaster.pid"))
	if err != nil {
		tb.Fatal(err)
	}
	postmaster, err := strconv.Atoi(strings.SplitN(string(pidFile), "\n", 2)[0])
	if err != nil {
		tb.Fatal(err)
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		var pid int
		fmt.Sscanf(filepath.Base(filepath.Dir(path)), "%d", &pid)
		st, err := procStat(pid)
		if err != nil || (pid != postmaster && st.ppid != postmaster) {
			continue
		}
		u.postgresCPU += st.cpu
		u.backends++
		if pid == postmaster { // and the backends that have ended (psql's), which it waited for
			u.postgresCPU += st.reaped
		}
	}
	return u
}

// awaitReaped waits (up to 5 s) until the cluster is back to n processes: a backend whose client
// has gone is reaped by the postmaster a moment later.
func (s *server) awaitReaped(tb testing.TB, pg *pgtmp.Cluster, n int) {
	for deadline := time.Now().Add(5 * time.Second); s.usage(tb, pg).backends > n && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

// stat is what the benchmarks read of /proc/<pid>/stat: the process's user and system time, that
// of the children it waited for (seconds), and its parent.
type stat struct {
	cpu, reaped float64
	ppid        int
}

func procStat(pid int) (stat, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return stat{}, err
	}
	// The command name, in parentheses, may hold spaces: the fields start after its last ")".
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	if len(f) < 15 {
		return stat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var t [4]float64 // utime, stime, cutime, cstime
	for i := range t {
		t[i], _ = strconv.ParseFloat(f[11+i], 64)
	}
	ppid, _ := strconv.Atoi(f[1])
	return stat{cpu: (t[0] + t[1]) / clockTicks, reaped: (t[2] + t[3]) / clockTicks, ppid: ppid}, nil
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on Linux (sysconf(_SC_CLK_TCK)).
const clockTicks = 100

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// psqlPath finds Debian's psql, beside the server's binaries or on PATH.
func psqlPath() (string, error) {
	bin, err := pgtmp.BinDir()
	if err != nil {
		return "", err
	}
	psql := filepath.Join(bin, "psql")
	if _, err := os.Stat(psql); err != nil {
		return exec.LookPath("psql")
	}
	return psql, nil
}

// psqlRun runs SQL statements with psql, one -c each.
func psqlRun(pg *pgtmp.Cluster, sql ...string) error {
	psql, err := psqlPath()
	if err != nil {
		return err
	}
	args := []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", strconv.Itoa(pg.Port), "-U", "postgres", "-d", "postgres"}
	for _, q := range sql {
		args = append(args, "-c", q)
	}
	if out, err := exec.Command(psql, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("psql %q: %v: %s", sql, err, out)
	}
	return nil
}

// psqlSeconds times psql exporting the dataset's table as CSV once.
func psqlSeconds(pg *pgtmp.Cluster) (float64, error) {
	psql, err := psqlPath()
	if err != nil {
		return 0, err
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
