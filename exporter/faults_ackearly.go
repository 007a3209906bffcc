//go:build exporterfaults

package exporter

import "os"

// applyPGFaults breaks the PostgreSQL store on purpose, for the harness's self-tests only: built
// with -tags exporterfaults, EXPORTER_FAULT_ACK_BEFORE_COMMIT=1 acknowledges every ingest before
// its transaction is even sent, so records acknowledged just before a database restart are lost.
func applyPGFaults(s *pgStore) {
	s.ackEarly = os.Getenv("EXPORTER_FAULT_ACK_BEFORE_COMMIT") == "1"
}
