//go:build !exporterfaults

package main

import "github.com/exportatscale/exportatscale/exporter"

// withFaults returns open as it is in every real build; see faults_on.go.
func withFaults(open func(exporter.Config) (exporter.Store, error)) func(exporter.Config) (exporter.Store, error) {
	return open
}

// faultsBuilt reports whether this build has the faults: not in a real build.
const faultsBuilt = false
