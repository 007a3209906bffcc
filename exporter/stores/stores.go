// Package stores opens the store an exporter's configuration names: PostgreSQL when it has a DSN
// (the stateless replicas over one database), else bbolt under its data directory. It is the one
// place that knows every store, so the domain package exporter knows none of them.
package stores

import (
	"github.com/exportatscale/exportatscale/exporter"
	"github.com/exportatscale/exportatscale/exporter/bboltstore"
	"github.com/exportatscale/exportatscale/exporter/pgstore"
)

// Open opens the store cfg names. The PostgreSQL pool has a connection for every export slot and a
// few for ingest.
func Open(cfg exporter.Config) (exporter.Store, error) {
	// Each branch returns its own nil on error, never a typed nil inside the interface.
	if cfg.PostgresDSN != "" {
		s, err := pgstore.Open(cfg.PostgresDSN, cfg.MaxCSVExports+cfg.MaxPDFExports+8)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	s, err := bboltstore.Open(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	return s, nil
}
