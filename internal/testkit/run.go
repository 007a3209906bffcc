package testkit

import (
	"time"

	"github.com/exportatscale/exportatscale/internal/contract"
)

// FakeLimits are the limits the harness's tests start a fake (or a small exporter) with, as the
// suite gives its own targets (contract.Harness), but with room for 4 CSV exports only, so the
// saturation probe holds few, and a write timeout longer than that probe holds its exports even on
// a busy machine.
func FakeLimits() contract.Limits {
	l := contract.Harness(3 * time.Second)
	l.MaxCSVExports = 4
	return l
}

// SmallRun are the sizes of a run that takes seconds: every step and probe of the suite's run,
// on smaller sets.
func SmallRun() contract.Sizes {
	return contract.Sizes{SmokeRows: 300, SmokeSingle: 30, LoadRows: 3000, LargeRows: 60000, BulkRows: 1000, HeldRows: 1000,
		LoadRequests: 24, LoadConcurrency: 4, PDFShare: 0.25, BurstRequests: 600}
}
