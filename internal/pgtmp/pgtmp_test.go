package pgtmp

import (
	"context"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestCluster starts a cluster, writes a row, restarts the server and reads the row back, then
// removes everything.
func TestCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := c.Dir
	defer c.Remove()
	if !regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`).MatchString(c.Version) {
		t.Errorf("server version %q", c.Version)
	}
	dsn, err := c.CreateDatabase(ctx, "pgtmp_test")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(sql string) string {
		t.Helper()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var out string
		if err := conn.QueryRow(ctx, sql).Scan(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	exec("WITH made AS (SELECT 1) SELECT 'x'")
	if conn, err := pgx.Connect(ctx, dsn); err != nil {
		t.Fatal(err)
	} else if _, err := conn.Exec(ctx, "CREATE TABLE t AS SELECT 'kept'::text AS v"); err != nil {
		t.Fatal(err)
	} else {
		conn.Close(ctx)
	}
	if err := c.Restart(ctx, "fast"); err != nil {
		t.Fatal(err)
	}
	if got := exec("SELECT v FROM t"); got != "kept" {
		t.Errorf("after restart: %q", got)
	}
	if got := exec("SHOW listen_addresses"); got != "127.0.0.1" {
		t.Errorf("listen_addresses = %q", got)
	}
	if err := c.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there after Remove: %v", dir, err)
	}
}
