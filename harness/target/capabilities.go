package target

import (
	"context"
	"time"
)

// What a target can show of the exporter beyond its HTTP API. A caller asks for each with a type
// assertion on its Target and records NOT RUN for what the target cannot show. Container and
// process targets implement all three; a url target none.

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

// The kinds that can show more than their HTTP API.
var (
	_ Sampler   = (*processTarget)(nil)
	_ Logger    = (*processTarget)(nil)
	_ Restarter = (*processTarget)(nil)
	_ Sampler   = (*containerTarget)(nil)
	_ Logger    = (*containerTarget)(nil)
	_ Restarter = (*containerTarget)(nil)
)
