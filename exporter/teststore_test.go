package exporter

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/exportatscale/exportatscale/internal/pgtmp"
)

// The package's tests run over one store, chosen by EXPORTER_TEST_STORE: bbolt (the default) or
// postgres. Over postgres, TestMain starts a throwaway cluster (internal/pgtmp) unless
// EXPORTER_TEST_POSTGRES_DSN names a server to use, and every test directory that testConfig
// is given gets a database of its own, so reopening a store "in the same directory" reopens the
// same data. `make test` runs the package both ways.
var testPG struct {
	admin string // DSN of the maintenance database
	mu    sync.Mutex
	dbs   map[string]string // test dir → DSN of its database
	n     int
}

func TestMain(m *testing.M) {
	switch kind := os.Getenv("EXPORTER_TEST_STORE"); kind {
	case "", "bbolt":
		os.Exit(m.Run())
	case "postgres":
	default:
		fmt.Fprintf(os.Stderr, "EXPORTER_TEST_STORE=%q: want bbolt or postgres\n", kind)
		os.Exit(2)
	}
	testPG.dbs = map[string]string{}
	testPG.admin = os.Getenv("EXPORTER_TEST_POSTGRES_DSN")
	var cluster *pgtmp.Cluster
	if testPG.admin == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		c, err := pgtmp.Start(ctx, pgtmp.Options{NoFsync: true, MaxConnections: 400})
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "EXPORTER_TEST_STORE=postgres: %v\n", err)
			os.Exit(2)
		}
		cluster = c
		testPG.admin = c.DSN("postgres")
		fmt.Fprintf(os.Stderr, "store tests over PostgreSQL %s at 127.0.0.1:%d\n", c.Version, c.Port)
	}
	code := m.Run()
	if cluster != nil {
		cluster.Remove()
	}
	os.Exit(code)
}

// testOverPostgres reports whether the tests run over the PostgreSQL store.
func testOverPostgres() bool { return testPG.admin != "" }

// testDSN returns the DSN of dir's own database, creating it the first time.
func testDSN(dir string) string {
	testPG.mu.Lock()
	defer testPG.mu.Unlock()
	if dsn, ok := testPG.dbs[dir]; ok {
		return dsn
	}
	testPG.n++
	name := fmt.Sprintf("exporter_test_%d", testPG.n)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, testPG.admin)
	if err != nil {
		panic(fmt.Sprintf("test database: %v", err))
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		panic(fmt.Sprintf("test database: %v", err))
	}
	cfg, err := pgx.ParseConfig(testPG.admin)
	if err != nil {
		panic(err)
	}
	dsn := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	testPG.dbs[dir] = dsn
	return dsn
}

// OpenTestStore opens the store cfg names, as the exporter does (stores.Open). The stores import
// this package, so its own test files cannot import them: the external test package sets it
// (stores_test.go).
var OpenTestStore func(cfg Config) (Store, error)

// openTestStore opens the store of cfg (as the exporter would) and closes it when the test ends.
func openTestStore(t testing.TB, cfg Config) Store {
	t.Helper()
	store, err := OpenTestStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// openBolt opens the bbolt store in dir, whichever store the package's tests run over.
func openBolt(dir string) (Store, error) {
	cfg := DefaultConfig()
	cfg.DataDir, cfg.PostgresDSN = dir, ""
	return OpenTestStore(cfg)
}
