package target

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// EngineInfo describes the container engine that answered a probe.
type EngineInfo struct {
	ServerVersion string `json:"server_version"`
	APIVersion    string `json:"api_version"`
	OS            string `json:"os"`
	Arch          string `json:"arch"`
}

// String describes the engine in one line, for notes and logs.
func (e EngineInfo) String() string {
	return fmt.Sprintf("Docker Engine %s, API %s, %s/%s", e.ServerVersion, e.APIVersion, e.OS, e.Arch)
}

// probeTimeout bounds an engine probe when the caller's context has no deadline.
const probeTimeout = 15 * time.Second

var prepareOnce sync.Once

// prepareTestcontainers sets the environment testcontainers-go reads once per process. It
// runs before every use of testcontainers in this package, so callers need not remember.
func prepareTestcontainers() {
	prepareOnce.Do(func() {
		// No reaper: it is an image we could not pull, and Stop removes what Start made.
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		// Published ports are reached on loopback. Without this, testcontainers running
		// inside a container sends its readiness checks to the default gateway.
		os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	})
}

// ProbeEngine asks the container engine testcontainers would use for its version. Any
// failure — no socket (where testcontainers panics), a refused connection, no answer in
// time — is returned wrapped in ErrNoEngine.
func ProbeEngine(ctx context.Context) (EngineInfo, error) {
	prepareTestcontainers()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, probeTimeout)
		defer cancel()
	}

	type result struct {
		info EngineInfo
		err  error
	}
	// testcontainers discovers the engine with a background context, so a socket that
	// accepts but never answers would block forever: probe in a goroutine and stop waiting
	// at the deadline.
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- result{err: fmt.Errorf("testcontainers panicked: %v", r)}
			}
		}()
		info, err := engineVersion(ctx)
		ch <- result{info, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return EngineInfo{}, fmt.Errorf("%w: %w", ErrNoEngine, r.err)
		}
		return r.info, nil
	case <-ctx.Done():
		return EngineInfo{}, fmt.Errorf("%w: no answer: %w", ErrNoEngine, ctx.Err())
	}
}

// DockerVersion returns the container engine's server version, for the evidence.
func DockerVersion(ctx context.Context) (string, error) {
	info, err := ProbeEngine(ctx)
	if err != nil {
		return "", err
	}
	return info.ServerVersion, nil
}

func engineVersion(ctx context.Context) (EngineInfo, error) {
	p, err := newProvider()
	if err != nil {
		return EngineInfo{}, err
	}
	defer p.Close()
	v, err := p.Client().ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return EngineInfo{}, fmt.Errorf("engine version: %w", err)
	}
	return EngineInfo{ServerVersion: v.Version, APIVersion: v.APIVersion, OS: v.Os, Arch: v.Arch}, nil
}

// newProvider returns testcontainers' Docker provider, turning its panics into errors.
func newProvider() (p *testcontainers.DockerProvider, err error) {
	prepareTestcontainers()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: testcontainers panicked: %v", ErrNoEngine, r)
		}
	}()
	p, err = testcontainers.NewDockerProvider()
	if err != nil {
		return nil, fmt.Errorf("docker provider: %w", err)
	}
	return p, nil
}
