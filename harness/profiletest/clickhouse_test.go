package profiletest

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/pipeline"
	"github.com/exportatscale/exportatscale/harness/profile"
	"github.com/exportatscale/exportatscale/harness/target"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// clickhouseFindings are what ClickHouse 18.16 from Debian's package earns, check by check: the
// measures it fails, and "failures" where a check fails by its failure lines. Each is a property
// of the server as docs/clickhouse.md measured it:
//
//   - smoke, load, A2 a2.content_header_mismatches: no Content-Disposition on an export, so a
//     browser shows the CSV instead of downloading it (and the exports count as failed).
//   - A4 a4.peak_memory_bytes, a4.memory_growth_ratio: 18.16 sorts a whole result in memory for
//     ORDER BY (no read-in-order), so memory grows with the export.
//   - A5 a5.rate_limited_responses: no rate limit at all; a5.saturated_responses and
//     a5.server_errors: past its capacity (max_concurrent_queries, which the profile declares and
//     the saturation probe exceeds) a query waits in a queue, then gets HTTP 500 (code 202) without
//     Retry-After, never 503. Its failure lines add that a stalled reader is never cut off (no
//     write timeout), which load reports too.
var clickhouseFindings = map[string][]string{
	"smoke": {"failures"},
	"load":  {"failures"},
	"A2":    {"a2.content_header_mismatches"},
	"A4":    {"a4.peak_memory_bytes", "a4.memory_growth_ratio"},
	"A5":    {"a5.rate_limited_responses", "a5.saturated_responses", "a5.server_errors"},
}

// clickHouseRun starts the profile's ClickHouse and prepares a run against it as user, with a
// password of the test's own and datasets suffixed suffix.
func clickHouseRun(t *testing.T, user, suffix string) *pipeline.Run {
	t.Helper()
	testkit.Require(t, testkit.ClickHouse)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Load(filepath.Join(root, "profiles", "clickhouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CLICKHOUSE_USER", user)
	t.Setenv("CLICKHOUSE_PASSWORD", "pw-"+strings.ReplaceAll(t.Name(), "/", "-"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tg, err := target.StartService(ctx, target.ServiceOf(p, p.Limits()), target.Options{WorkDir: t.TempDir(), Log: testkit.LogWriter(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := tg.Stop(ctx); err != nil {
			t.Errorf("stopping ClickHouse: %v", err)
		}
	})
	run, err := pipeline.New(pipeline.Config{Target: tg, Thresholds: testkit.Thresholds(t), Suffix: suffix, Seed: 42, Profile: p})
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// findings are a run's checks that did not pass, as check → the measures that fail it, or
// "failures" when only failure lines fail it; a check that was not run is "not run: why".
func findings(checks []evidence.Check) map[string][]string {
	out := map[string][]string{}
	for _, c := range checks {
		switch c.Outcome() {
		case evidence.OutcomeFailed:
			for _, m := range c.Measures {
				if m.Fails() {
					out[c.ID] = append(out[c.ID], m.Name)
				}
			}
			if len(out[c.ID]) == 0 {
				out[c.ID] = []string{"failures"}
			}
		case evidence.OutcomeNotRun:
			out[c.ID] = []string{"not run: " + strings.Join(c.Failures, "; ")}
		}
	}
	return out
}

// TestClickHouse judges ClickHouse through profiles/clickhouse.yaml with the whole run (seed, smoke
// with every option the profile has, load and its probes, A1-A6) and fails on a check that was
// not run, or on any finding clickhouseFindings does not list. The verdict is RED, as ClickHouse
// earns it; what is judged is that the instrument names exactly the known findings.
func TestClickHouse(t *testing.T) {
	run := clickHouseRun(t, "default", "ch")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	checks := run.All(ctx)
	for _, c := range checks {
		t.Logf("%s %s: %s", c.ID, c.Status, summary(c))
	}
	got := findings(checks)
	for _, id := range slices.Sorted(maps.Keys(got)) {
		for _, f := range got[id] {
			if !slices.Contains(clickhouseFindings[id], f) {
				t.Errorf("%s: unexpected finding %s (%s)", id, f, summary(byID(checks, id)))
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(clickhouseFindings)) {
		for _, f := range clickhouseFindings[id] {
			if !slices.Contains(got[id], f) {
				t.Logf("%s: the known finding %s did not show this time", id, f)
			}
		}
	}
	if c := byID(checks, "A1"); c.Outcome() != evidence.OutcomePassed {
		t.Errorf("A1: every row of every export must come back exactly: %s", summary(c))
	}
	if c := byID(checks, "A6"); c.Status != evidence.StatusNotApplicable {
		t.Errorf("A6 is %s, want not applicable (the profile maps no metrics)", c.Status)
	}
}

// TestClickHouseCutExports: the same ClickHouse, exporting as a user whose settings cut a result
// silently (max_result_rows=5000, result_overflow_mode='break': a 200 that ends early), is RED on
// A1, with the missing rows counted.
func TestClickHouseCutExports(t *testing.T) {
	run := clickHouseRun(t, "exporter", "cut")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	checks := run.Some(ctx, "seed", "smoke", "load", "A1")
	a1 := byID(checks, "A1")
	missing := 0.0
	for _, m := range a1.Measures {
		if m.Name == "a1.missing_rows" {
			missing = m.Value
		}
	}
	if a1.Outcome() != evidence.OutcomeFailed || missing == 0 {
		t.Errorf("A1 against exports cut at 5000 rows: %s (missing rows %v), want RED with missing rows", summary(a1), missing)
	}
	t.Logf("A1: %s", summary(a1))
}

func byID(checks []evidence.Check, id string) evidence.Check {
	for _, c := range checks {
		if c.ID == id {
			return c
		}
	}
	return evidence.Check{ID: id, Status: evidence.StatusNotRun}
}

func summary(c evidence.Check) string {
	var parts []string
	for _, m := range c.Measures {
		if m.Fails() {
			parts = append(parts, fmt.Sprintf("%s = %v %s", m.Name, m.Value, m.Unit))
		}
	}
	parts = append(parts, c.Failures[:min(len(c.Failures), 3)]...)
	if c.Reason != "" {
		parts = append(parts, c.Reason)
	}
	return strings.Join(parts, "; ")
}
