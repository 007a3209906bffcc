package exporter_test

import (
	"github.com/exportatscale/exportatscale/exporter"
	"github.com/exportatscale/exportatscale/exporter/stores"
)

// The package's tests open their stores as the exporter does; see OpenTestStore.
func init() { exporter.OpenTestStore = stores.Open }
