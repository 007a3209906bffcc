// Package target starts the exporter under test and observes it from outside.
//
// A Target is one running exporter reached over HTTP at BaseURL with a bearer Token that has
// both scopes. These kinds exist:
//
//   - container: the exporter binary is built on the host (CGO_ENABLED=0), copied into a
//     FROM scratch image built from exporter/Dockerfile, and started with testcontainers-go.
//     The port is published on 127.0.0.1 only. Memory is read from the engine's container
//     stats (the cgroup's anonymous memory, and its page cache for information), logs from the
//     engine, restarts from container inspect.
//   - process: the same binary runs as a child process listening on 127.0.0.1. Memory is read
//     from /proc/<pid>/status (RssAnon, and RssFile + RssShmem for information), logs are the
//     captured stdout and stderr.
//   - image: any local image of the container contract, observed as the container kind is.
//   - cluster: the deployment past one machine, on loopback: a throwaway PostgreSQL (pgtmp), N
//     replicas of the container kind's image on the host network over it, and HAProxy in front
//     on deploy/haproxy.cfg. Memory, logs and restarts are observed replica by replica; it also
//     offers the replicas themselves (Replicated), the database (Database) and every replica's
//     metrics (MetricsSource).
//   - a profile's service (StartService): a third-party export service, such as ClickHouse from
//     Debian's clickhouse-server, run as a process on 127.0.0.1 from a temporary directory of its
//     own with the files its profile gives, observed as the process kind is; it can also be killed
//     and restarted on the same directory and ports (Relauncher). Its Kind is process.
//   - url: an exporter that is already running elsewhere. Only its HTTP API is available;
//     memory, logs and restarts are not observable from outside and say so.
//
// The package never imports the exporter: it builds it with the go tool and talks HTTP.
//
// Selection is explicit. Options.Kind empty means "container if a container engine answers,
// else process", and the reason is kept in Info.Note for the evidence. With RequireKind a kind
// that cannot be had is an error wrapping ErrTargetUnavailable, never a silent fallback.
//
// testcontainers-go is configured by environment variables read once per process. Before its
// first use this package sets TESTCONTAINERS_RYUK_DISABLED=true (containers are terminated by
// Stop, not by a reaper) and TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 (so traffic goes to
// loopback, not to the default gateway when the tests themselves run inside a container).
package target
