package main

import (
	"testing"

	"github.com/exportatscale/exportatscale/exporter"
)

// stubStore is a bare stand-in for a store: the tests look at what withFaults makes
// of it, not at what it does.
type stubStore struct{ exporter.Store }

// openStub opens a stubStore.
func openStub(exporter.Config) (exporter.Store, error) { return &stubStore{}, nil }

// TestWithFaults: the PostgreSQL store is wrapped by the ack-before-commit fault only in a build
// with -tags exporterfaults (faultsBuilt) and with EXPORTER_FAULT_ACK_BEFORE_COMMIT=1; the bbolt
// store never is, as before.
func TestWithFaults(t *testing.T) {
	pg := exporter.DefaultConfig()
	pg.PostgresDSN = "postgres://db/x"
	for _, tt := range []struct {
		name    string
		env     string
		cfg     exporter.Config
		wrapped bool
	}{
		{"postgres, fault on", "1", pg, faultsBuilt},
		{"postgres, fault off", "", pg, false},
		{"bbolt, fault on", "1", exporter.DefaultConfig(), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("EXPORTER_FAULT_ACK_BEFORE_COMMIT", tt.env)
			s, err := withFaults(openStub)(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, plain := s.(*stubStore); plain == tt.wrapped {
				t.Errorf("store %T: wrapped %t, want %t", s, !plain, tt.wrapped)
			}
		})
	}
}
