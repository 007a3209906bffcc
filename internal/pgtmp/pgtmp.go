// Package pgtmp runs a throwaway PostgreSQL cluster from the host's installed server (Debian's
// `postgresql` package): a fresh data directory under a temporary directory, a server listening
// on 127.0.0.1 only, on a free port, trust authentication, removed by Remove.
//
// initdb refuses to run as root, so as root the cluster's files belong to, and its programs run
// as, the unprivileged user nobody (uid and gid 65534).
package pgtmp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/exportatscale/exportatscale/internal/loopback"
)

// Options adjust a cluster. The zero value is a durable server (fsync on).
type Options struct {
	// NoFsync turns fsync off: faster writes, safe across server restarts but not across a crash of
	// the machine. For tests.
	NoFsync bool
	// MaxConnections is max_connections (default 100).
	MaxConnections int
	// Log receives the server's log when Remove runs (nil: it is only kept in the directory).
	Log func(string)
}

// Cluster is one running (or stopped) throwaway server.
type Cluster struct {
	// Dir holds the data directory, the socket and the log.
	Dir  string
	Port int
	// Version is the server's version, such as "15.18".
	Version string
	bin     string
	opts    Options
	uid     *syscall.Credential
}

// BinDir finds the directory with initdb, pg_ctl and postgres: $PG_BINDIR, the newest
// /usr/lib/postgresql/*/bin, or the directory of initdb on PATH.
func BinDir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real), nil
		}
	}
	return "", errors.New("no PostgreSQL server found (initdb, pg_ctl): install Debian's postgresql package, or set PG_BINDIR")
}

func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Start creates and starts a cluster.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtmp-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, bin: bin, opts: opts}
	if os.Geteuid() == 0 {
		c.uid = &syscall.Credential{Uid: 65534, Gid: 65534}
		if err := os.Chown(dir, 65534, 65534); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if _, err := c.run(ctx, "initdb", "-D", c.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-instructions"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	out, err := c.run(ctx, "postgres", "--version")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)": the version is the third word.
	if f := strings.Fields(out); len(f) >= 3 {
		c.Version = f[2]
	}
	if err := c.Start(ctx); err != nil {
		c.Remove()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) data() string { return filepath.Join(c.Dir, "data") }

// LogFile is the server's log.
func (c *Cluster) LogFile() string { return filepath.Join(c.Dir, "server.log") }

// DSN is the connection string of database db (the default database is "postgres").
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// Start starts a stopped cluster, on its old port when it had one.
func (c *Cluster) Start(ctx context.Context) error {
	if c.Port == 0 {
		p, err := loopback.FreePort()
		if err != nil {
			return err
		}
		c.Port = p
	}
	maxConns := c.opts.MaxConnections
	if maxConns == 0 {
		maxConns = 100
	}
	settings := []string{
		"-p", strconv.Itoa(c.Port),
		"-k", c.Dir, // the Unix socket stays in the cluster's own directory
		"-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=" + strconv.Itoa(maxConns),
		"-c", "shared_buffers=128MB",
	}
	if c.opts.NoFsync {
		settings = append(settings, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	_, err := c.run(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", c.data(), "-l", c.LogFile(), "-o", strings.Join(settings, " "))
	return err
}

// Stop stops the server: mode is "fast" (roll back open transactions, close connections) or
// "immediate" (no shutdown checkpoint: recovery at the next start), as pg_ctl -m takes.
func (c *Cluster) Stop(ctx context.Context, mode string) error {
	_, err := c.run(ctx, "pg_ctl", "stop", "-w", "-t", "60", "-m", mode, "-D", c.data())
	return err
}

// Restart stops the server with mode and starts it again on the same port.
func (c *Cluster) Restart(ctx context.Context, mode string) error {
	if err := c.Stop(ctx, mode); err != nil {
		return err
	}
	return c.Start(ctx)
}

// Remove stops the server (if it runs) and deletes its directory.
func (c *Cluster) Remove() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
		c.Stop(ctx, "fast")
	}
	if c.opts.Log != nil {
		if b, err := os.ReadFile(c.LogFile()); err == nil {
			c.opts.Log(string(b))
		}
	}
	return os.RemoveAll(c.Dir)
}

// CreateDatabase creates database name (with the server's createdb) and returns its DSN.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) (string, error) {
	if _, err := c.run(ctx, "createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(c.Port), "-U", "postgres", name); err != nil {
		return "", err
	}
	return c.DSN(name), nil
}

func (c *Cluster) run(ctx context.Context, prog string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, prog), args...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "HOME="+c.Dir)
	if c.uid != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.uid}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if prog == "pg_ctl" {
			if b, rerr := os.ReadFile(c.LogFile()); rerr == nil {
				msg += "\nserver log:\n" + tail(string(b), 2000)
			}
		}
		return out.String(), fmt.Errorf("%s %s: %w\n%s", prog, strings.Join(args, " "), err, msg)
	}
	return out.String(), nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
