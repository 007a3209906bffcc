package testkit

import (
	"time"

	"github.com/exportatscale/exportatscale/harness/api"
	"github.com/exportatscale/exportatscale/harness/profile"
	"github.com/exportatscale/exportatscale/internal/contract"
)

// V1Limits are the limits the v1 profile declares (protection), which the suite starts its own
// targets with, changed by edit (nil: as declared).
func V1Limits(edit func(*profile.Limits)) *profile.Limits {
	l := api.V1Profile().Limits()
	if edit != nil {
		edit(&l)
	}
	return &l
}

// V1Env is the environment the v1 profile starts this repository's exporter (or its fake) with:
// its service env, with the limits l filled in (nil: as declared). A target fills in {listen},
// {data_dir} and {tokens_file}. A run judging the target is given the same l
// (pipeline.Config.Limits).
func V1Env(l *profile.Limits) map[string]string {
	if l == nil {
		l = V1Limits(nil)
	}
	return api.V1Profile().ServiceWith(*l).Env
}

// FakeLimits are the limits the harness's tests start a fake (or a small exporter) with: the v1
// profile's, but with room for 4 CSV exports only, so the saturation probe holds few, and a write
// timeout longer than that probe holds its exports even on a busy machine.
func FakeLimits() *profile.Limits {
	return V1Limits(func(l *profile.Limits) {
		l.Concurrent["csv"] = 4
		l.CutAfter = 3 * time.Second
	})
}

// FakeEnv is the environment that starts a fake (or a small exporter) with FakeLimits.
func FakeEnv() map[string]string { return V1Env(FakeLimits()) }

// SmallRun are the sizes of a run that takes seconds: every step and probe of the suite's run,
// on smaller sets.
func SmallRun() contract.Sizes {
	return contract.Sizes{SmokeRows: 300, SmokeSingle: 30, LoadRows: 3000, LargeRows: 60000, BulkRows: 1000, HeldRows: 1000,
		LoadRequests: 24, LoadConcurrency: 4, PDFShare: 0.25, BurstRequests: 600}
}
