//go:build !exporterfaults

package exporter

// applyPGFaults is a no-op in every real build; see faults_ackearly.go.
func applyPGFaults(*pgStore) {}
