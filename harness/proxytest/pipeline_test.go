package proxytest

import (
	"bytes"
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/render"
	"github.com/exportatscale/exportatscale/harness/pipeline"
	"github.com/exportatscale/exportatscale/harness/profile"
	"github.com/exportatscale/exportatscale/harness/target"
	"github.com/exportatscale/exportatscale/internal/contract"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

// stripped is how A1's note on stripped trailers begins.
const stripped = "trailers stripped by an intermediary"

// proxied is the exporter as a proxy in front of it serves it: the same target at another URL.
// Memory, logs and restarts are not forwarded; the runs here do not need them.
type proxied struct {
	target.Target
	url string
}

func (p proxied) BaseURL() string { return p.url }

// proxiedEnv starts the exporter with the v1 profile's limits (as the suite starts its own
// targets), but with the exporter's default write timeout, and a rate limit that two runs of
// seeding and smoke exports do not reach.
func proxiedEnv() map[string]string {
	return testkit.V1Env(testkit.V1Limits(func(l *profile.Limits) {
		l.Rate, l.Burst, l.CutAfter = 1000, 1000, contract.Defaults().WriteTimeout
	}))
}

// startExporter starts the real exporter, built from this repository, as a process through the
// suite's process target, with the suite's limits but a rate limit that two runs of seeding and
// smoke exports one after the other do not reach (no burst probe runs here).
func startExporter(t *testing.T) target.Target {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tg, err := target.Start(ctx, target.Options{Kind: target.KindProcess, RequireKind: true, WorkDir: t.TempDir(),
		Env: proxiedEnv()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := tg.Stop(ctx); err != nil {
			t.Errorf("stopping the exporter: %v", err)
		}
	})
	return tg
}

// runSmoke runs the pipeline's Seed and Smoke against tg (small datasets: the smoke set is what
// the assertions judge here; Load is not run) and returns the checks of Seed, Smoke, A1 and A2
// by id.
func runSmoke(t *testing.T, tg target.Target, suffix string) map[string]evidence.Check {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	th := testkit.Thresholds(t)
	run, err := pipeline.New(pipeline.Config{Target: tg, Thresholds: th, Suffix: suffix, Seed: 42,
		Sizes: contract.Sizes{SmokeRows: 300, SmokeSingle: 20, LoadRows: 10, LargeRows: 10, BulkRows: 1, HeldRows: 1}})
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]evidence.Check{}
	for _, c := range run.Some(ctx, "seed", "smoke", "A1", "A2") {
		checks[c.ID] = c
	}
	return checks
}

// TestBehindNginx runs the real exporter once directly and once behind Debian's nginx 1.22 running
// deploy/nginx-1.27.conf less proxy_pass_trailers (deploySite). The same exports pass A1
// directly; through nginx A1 is RED with the note that an intermediary stripped the trailers,
// while nothing blames the exporter's bodies: A1's row measures pass, A2 passes, every PDF export
// verifies, smoke's CSV exports fail as trailers_missing only. The report shows the note.
func TestBehindNginx(t *testing.T) {
	tg := startExporter(t)
	u, err := url.Parse(tg.BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	front := proxied{Target: tg, url: startNginx(t, u.Host)}

	direct := runSmoke(t, tg, "direct")
	for _, id := range []string{"seed", "smoke", "A1", "A2"} {
		if c := direct[id]; c.Status != evidence.StatusPassed {
			t.Errorf("direct: %s is %s: %q", id, c.Status, c.Failures)
		}
	}
	if n := direct["A1"].Notes; len(n) > 0 {
		t.Errorf("direct: A1 notes %q", n)
	}

	checks := runSmoke(t, front, "nginx")
	if c := checks["seed"]; c.Status != evidence.StatusPassed {
		t.Fatalf("through nginx: seed is %s: %q", c.Status, c.Failures)
	}
	a1 := checks["A1"]
	if a1.Status != evidence.StatusFailed {
		t.Errorf("through nginx: A1 is %s, want failed", a1.Status)
	}
	if !slices.ContainsFunc(a1.Notes, func(n string) bool { return strings.HasPrefix(n, stripped) }) {
		t.Errorf("through nginx: A1 notes %q, want one saying %q", a1.Notes, stripped)
	}
	for _, m := range a1.Measures {
		switch m.Name {
		case "a1.missing_rows", "a1.duplicate_rows", "a1.mismatched_fields":
			if !m.Pass {
				t.Errorf("through nginx: %s = %v blames the exporter's bodies", m.Name, m.Value)
			}
		case "a1.trailer_mismatches":
			if m.Pass {
				t.Errorf("through nginx: %s = %v passes", m.Name, m.Value)
			}
		}
	}
	if c := checks["A2"]; c.Status != evidence.StatusPassed {
		t.Errorf("through nginx: A2 is %s: %q", c.Status, c.Failures)
	}
	// Smoke fails every CSV export as trailers_missing, and for nothing else.
	for _, f := range checks["smoke"].Failures {
		switch {
		case f == "Content-Digest missing" || f == "Export-Rows missing":
		case strings.HasPrefix(f, "CSV with ") && strings.Contains(f, ": trailers_missing ("):
		default:
			t.Errorf("through nginx: smoke: %s", f)
		}
	}

	var md, page bytes.Buffer
	report := evidence.Report{RunID: "behind-nginx", Checks: []evidence.Check{checks["seed"], checks["smoke"], a1, checks["A2"]}}
	if err := render.Markdown(&md, report); err != nil {
		t.Fatal(err)
	}
	if err := render.HTML(&page, report); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "## Notes\n\n- **A1 complete**: "+stripped) || !strings.Contains(page.String(), "<li><strong>A1 complete</strong>: "+stripped) {
		t.Errorf("the report does not show A1's note:\n%s", md.String())
	}
	t.Logf("A1 through nginx: %s; notes %q; failures %q", a1.Status, a1.Notes, a1.Failures)
	t.Logf("smoke through nginx: %s; failures %q", checks["smoke"].Status, checks["smoke"].Failures)
}
