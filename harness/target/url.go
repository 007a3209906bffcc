package target

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// urlTarget is an exporter that runs elsewhere; only its HTTP API is observable, so it implements
// none of the optional interfaces.
type urlTarget struct {
	endpoint
}

func startURL(ctx context.Context, o Options, sel selection) (Target, error) {
	base := strings.TrimRight(o.URL, "/")
	t0 := time.Now()
	if err := waitReady(ctx, o, base, o.Token, nil); err != nil {
		return nil, fmt.Errorf("url target %s: %w", base, err)
	}
	return &urlTarget{endpoint{
		token: o.Token,
		info: Info{
			Kind:         KindURL,
			BaseURL:      base,
			Note:         sel.note,
			Startup:      time.Since(t0),
			MemoryMethod: methodNone,
		},
	}}, nil
}

func (u *urlTarget) Kind() Kind { return KindURL }

// Stop does nothing: the deployment is not ours to stop.
func (u *urlTarget) Stop(context.Context) error { return nil }
