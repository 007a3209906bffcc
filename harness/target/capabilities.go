package target

import (
	"context"
	"time"

	"github.com/exportatscale/exportatscale/harness/metrics"
)

// What a target can show of the exporter beyond its HTTP API. A caller asks for each with a type
// assertion on its Target and records NOT RUN for what the target cannot show. Container and
// process targets implement all three; a url target none. A cluster implements them over all its
// replicas, and Replicated, Database and MetricsSource besides. A profile's service (StartService)
// implements the three, and Relauncher besides.

// Sampler samples the exporter's memory from outside it, in windows.
type Sampler interface {
	// StartSampling samples the exporter's memory every interval until Stop, and opens the
	// first window.
	StartSampling(interval time.Duration) error
	// Peak returns the current memory window so far; ok is false when nothing was measured.
	Peak() (w MemoryWindow, ok bool)
	// ResetPeak closes the current memory window, returns it, and opens a new one, so a caller
	// can compare the peak during one phase with the peak during another. It takes a closing
	// sample first, which for a container can take about a second.
	ResetPeak() (w MemoryWindow, ok bool)
}

// Logger returns the exporter's output.
type Logger interface {
	// Logs returns the exporter's stdout and stderr so far (after Stop: as captured at stop).
	Logs(ctx context.Context) ([]byte, error)
}

// Restarter reports whether the exporter kept running.
type Restarter interface {
	// Restarts reports whether the exporter restarted or exited without being asked to. After
	// Stop it reports the state seen just before stopping.
	Restarts(ctx context.Context) (RunState, error)
}

// Relauncher restarts what runs behind a target on purpose, to show what survives a crash: a
// profile's service (StartService) is killed with SIGKILL and started again in the same directory
// on the same ports. Not to be confused with Restarter, which reports restarts; the restarts a
// Relauncher causes are its RunState.ExpectedRestarts.
type Relauncher interface {
	// Restart kills and restarts the service, and returns once it is ready again.
	Restart(ctx context.Context) error
}

// Replicated is a deployment of several exporter replicas behind one front proxy.
type Replicated interface {
	// Replicas lists the replicas: Name and the replica's own URL (bypassing the proxy).
	Replicas() []Replica
	// KillReplica SIGKILLs replica i's exporter process (kill -9 of the container's main pid from
	// the host, so the engine sees an unexpected death and its restart policy applies — not
	// `docker kill`, which counts as a manual stop). Counted as an expected restart.
	KillReplica(ctx context.Context, i int) error
	// ProxyState reports whether the front proxy currently routes to replica i (HAProxy stats:
	// UP/DOWN), and the number of requests it has sent it.
	ProxyState(ctx context.Context, i int) (up bool, sessions int64, err error)
	// ReplicaRestarts returns replica i's engine restart count.
	ReplicaRestarts(ctx context.Context, i int) (int, error)
}

// Replica is one exporter of a Replicated deployment.
type Replica struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Database is the deployment's PostgreSQL.
type Database interface {
	// RestartDatabase restarts the server (pg_ctl restart -m mode: "fast", "immediate"), on the
	// same port.
	RestartDatabase(ctx context.Context, mode string) error
	// DatabaseDSN is the connection string the replicas use.
	DatabaseDSN() string
	// DatabaseVersion is the server's version, such as "15.18".
	DatabaseVersion() string
}

// MetricsSource scrapes every exporter of a deployment directly, where one scrape through BaseURL
// would reach just one of them. A caller sums the snapshots (metrics.Sum) to reconcile the
// deployment's counters, and compares them to see each exporter's share.
type MetricsSource interface {
	// ScrapeMetrics returns one snapshot per replica, in the order of Replicated.Replicas.
	ScrapeMetrics(ctx context.Context) ([]metrics.Snapshot, error)
}

// What each kind shows beyond its HTTP API, as the comment at the top says: a process and a
// container the three; a profile's service those and Relauncher; a cluster all but Relauncher.
var (
	_ interface {
		Sampler
		Logger
		Restarter
	} = (*processTarget)(nil)
	_ interface {
		Sampler
		Logger
		Restarter
	} = (*containerTarget)(nil)
	_ interface {
		Sampler
		Logger
		Restarter
		Relauncher
	} = (*serviceTarget)(nil)
	_ interface {
		Sampler
		Logger
		Restarter
		Replicated
		Database
		MetricsSource
	} = (*clusterTarget)(nil)
)
