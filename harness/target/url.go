package target

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// urlTarget is an exporter that runs elsewhere; only its HTTP API is observable.
type urlTarget struct {
	info  Info
	token string
}

func startURL(ctx context.Context, o Options, sel selection) (Target, error) {
	base := strings.TrimRight(o.URL, "/")
	t0 := time.Now()
	if err := waitReady(ctx, base, o.Token, o.startTimeout(), nil); err != nil {
		return nil, fmt.Errorf("url target %s: %w", base, err)
	}
	return &urlTarget{
		token: o.Token,
		info: Info{
			Kind:         KindURL,
			BaseURL:      base,
			Note:         sel.note,
			Startup:      time.Since(t0),
			MemoryMethod: methodNone,
		},
	}, nil
}

func (u *urlTarget) Kind() Kind          { return KindURL }
func (u *urlTarget) BaseURL() string     { return u.info.BaseURL }
func (u *urlTarget) Token() string       { return u.token }
func (u *urlTarget) ImageDigest() string { return "" }
func (u *urlTarget) Info() Info          { return u.info }

func (u *urlTarget) Logs(context.Context) ([]byte, error) {
	return nil, fmt.Errorf("logs: %w", ErrNotObservable)
}

func (u *urlTarget) Restarts(context.Context) (RunState, error) {
	return RunState{}, fmt.Errorf("restarts: %w", ErrNotObservable)
}

func (u *urlTarget) StartSampling(time.Duration) error {
	return fmt.Errorf("memory: %w", ErrNotObservable)
}

func (u *urlTarget) Peak() (MemoryWindow, bool)      { return MemoryWindow{Method: methodNone}, false }
func (u *urlTarget) ResetPeak() (MemoryWindow, bool) { return MemoryWindow{Method: methodNone}, false }

// Stop does nothing: the deployment is not ours to stop.
func (u *urlTarget) Stop(context.Context) error { return nil }
