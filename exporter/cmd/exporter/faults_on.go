//go:build exporterfaults

package main

import (
	"os"

	"github.com/exportatscale/exportatscale/exporter"
	"github.com/exportatscale/exportatscale/exporter/faults"
)

// withFaults breaks the store on purpose, for the harness's self-tests only: built with -tags
// exporterfaults, EXPORTER_FAULT_ACK_BEFORE_COMMIT=1 makes the PostgreSQL store acknowledge every
// ingest before its transaction is even sent (faults.AckBeforeCommit), so records acknowledged
// just before a database restart are lost.
func withFaults(open func(exporter.Config) (exporter.Store, error)) func(exporter.Config) (exporter.Store, error) {
	if os.Getenv("EXPORTER_FAULT_ACK_BEFORE_COMMIT") != "1" {
		return open
	}
	return func(cfg exporter.Config) (exporter.Store, error) {
		s, err := open(cfg)
		if err != nil || cfg.PostgresDSN == "" {
			return s, err
		}
		return faults.AckBeforeCommit(s, faults.AckEarlyDelay), nil
	}
}

// faultsBuilt reports whether this build has the faults (-tags exporterfaults).
const faultsBuilt = true
