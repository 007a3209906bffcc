// Package pipeline is the acceptance run and owns its table of checks (table.go): the steps (seed,
// smoke, load with its probes), the assertions A1–A6, the faults F1 and F2, the baseline and the
// suite's own check. Each check is one file (check_*.go) holding its row: ID, title, labels, when
// it applies, a Measure that returns plain data, and a Judge that turns that data and the
// thresholds into the check. The Ginkgo suite makes one spec per row, the self-tests run the same
// rows through Run.All, and the required set of the verdict is Required of the same table.
// Nothing here knows Ginkgo or testing.
//
// A Run is used once, its rows in table order. A check whose inputs an earlier step did not
// produce is skipped (not run), never passed. Checks are not safe for concurrent use.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/api"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/harness/memory"
	"github.com/exportatscale/exportatscale/harness/metrics"
	"github.com/exportatscale/exportatscale/harness/profile"
	"github.com/exportatscale/exportatscale/harness/seed"
	"github.com/exportatscale/exportatscale/harness/target"
	"github.com/exportatscale/exportatscale/internal/contract"
)

// Config is one acceptance run. Zero sizes take the suite's defaults (contract.DefaultSizes).
type Config struct {
	Target     target.Target
	Thresholds map[string]evidence.Rule
	// Suffix makes the dataset names unique to this run ("smoke-<suffix>"), so runs against a
	// shared deployment never mix their records.
	Suffix string
	Seed   uint64

	// Sizes are the run's sizes; a zero one takes contract.DefaultSizes()'.
	contract.Sizes
	// Limits are the limits the target runs with (nil: those the Profile declares). The
	// saturation probe and the stalled reader are derived from them.
	Limits *profile.Limits
	// SaturationHold is how many exports the saturation probe holds unread (0: derived from
	// Limits, one more than every replica holds CSV exports together).
	SaturationHold int
	// SampleInterval is how often the target's memory is sampled (0: 200 ms).
	SampleInterval time.Duration
	// FaultWait bounds how long a fault step waits for the deployment to come back (0: 60 s).
	FaultWait time.Duration
	// CapacityBudget bounds the capacity check's ramp (0: 2 minutes), CapacityStep each of its
	// steps (0: 6 s).
	CapacityBudget, CapacityStep time.Duration

	// Narrate, when set, is told what each step is doing (the suite passes Ginkgo's By).
	Narrate func(string)
	// Seeded, when set, is told how seeding goes (records done, rate, ETA), at most every 100 ms
	// per job and once at its end.
	Seeded func(dataset string, p seed.Progress)
	// Exported, when set, is told after each export of the load test how many of how many planned
	// have been received.
	Exported func(done, planned int)

	// Baseline is an earlier run's bundle to compare with: it makes the baseline check apply.
	Baseline string
	// Compare is a baseline deployment started beside the target, with the same limits
	// (--compare-image, --compare-url): it makes the regression check apply. ComparePairs is the
	// number of export pairs of its A/B run (0: 60), CompareRows the rows of its dataset (0: five
	// times LoadRows, so that a CSV export lasts long enough to time well).
	Compare      target.Target
	ComparePairs int
	CompareRows  int
	// Profile is the API the run judges (nil: api.V1Profile(), this repository's exporter).
	Profile *profile.Profile

	// Soak is the soak's (check_soak.go); a zero Duration runs none.
	Soak SoakConfig

	// Table is the checks the run is made of (0: Table()); the self-tests add to it.
	Table []Def

	// Omit names reconciliations A6 leaves out (metric series names, see Observability).
	// Only the self-tests set it, to prove that each reconciliation is what catches its fake.
	Omit []string
}

// Run is one acceptance run in progress: what its steps measured so far.
type Run struct {
	cfg     Config
	http    *http.Client
	stall   *http.Client
	api     *api.API
	seeder  *seed.Client
	exports *export.Client
	schema  seed.Schema

	datasets      map[string]*dataset // smoke, load, large, bulk
	before, after metrics.Snapshot
	afterTaken    bool
	// replicasBefore and replicasAfter are the two scrapes replica by replica, for a deployment
	// of replicas (replicas.go); before and after are their sums.
	replicasBefore, replicasAfter replicaScrapes
	manifests                     []seed.Manifest

	tally export.Tally // every export request between the two scrapes
	load  *load.Result
	// loadJobs and replay are the load test's mix and its captured answers, for the capacity check.
	loadJobs  []load.Job
	replay    load.Replay
	capacity  *capacityRun
	burst     load.BurstResult
	saturated *load.SaturationResult
	endings   *load.BadEndingsResult
	memory    memory.Memory
	memoryOK  bool

	// For Series: when Load and its load test began, and the memory windows Load closed.
	seriesStart, loadStart time.Time
	windows                []window

	artifacts map[string][]byte
	baseline  []evidence.Delta // the baseline check's comparison
	soak      *evidence.Soak   // what the soak sampled
	ab        *evidence.AB     // the regression check's A/B comparison

	caps     Capabilities
	recorded map[string]evidence.Check // every check made so far, by ID
}

// window is a closed memory window and what ran in it.
type window struct {
	label string
	target.MemoryWindow
}

type dataset struct {
	name    string
	schema  seed.Schema
	records []seed.Record
	full    *export.Expected
}

// bulkSchema is the bulk set's: one text column.
var bulkSchema = seed.Schema{{Name: "blob", Type: seed.TypeString}}

// bulkCell is the size of a bulk record's text.
const bulkCell = 16 << 10

// bulkRecords are n records of bulkCell bytes of text each, quotes, commas and line breaks
// included, every one different.
func bulkRecords(n int) []seed.Record {
	unit := `"bulk", text; =formula-like, CR/LF` + "\r\n"
	recs := make([]seed.Record, n)
	for i := range recs {
		head := fmt.Sprintf("record %d: ", i+1)
		recs[i] = seed.Record{ID: int64(i + 1), Values: []any{head + strings.Repeat(unit, (bulkCell-len(head))/len(unit))}}
	}
	return recs
}

// New prepares a run against cfg.Target.
func New(cfg Config) (*Run, error) {
	if cfg.Target == nil {
		return nil, errors.New("pipeline: no target")
	}
	cfg.Sizes = withDefaults(cfg.Sizes, contract.DefaultSizes())
	if cfg.Profile == nil {
		cfg.Profile = api.V1Profile()
	}
	if cfg.Limits == nil {
		l := cfg.Profile.Limits()
		cfg.Limits = &l
	}
	replicas := 1
	if rep, ok := cfg.Target.(target.Replicated); ok {
		replicas = len(rep.Replicas())
	}
	// Each replica has its own bucket per client: the burst must outrun all of them.
	cfg.BurstRequests *= replicas
	if cfg.SaturationHold == 0 {
		cfg.SaturationHold = saturationHold(*cfg.Limits, replicas)
	}
	if cfg.SampleInterval == 0 {
		cfg.SampleInterval = 200 * time.Millisecond
	}
	if cfg.FaultWait == 0 {
		cfg.FaultWait = time.Minute
	}
	if cfg.Thresholds == nil {
		return nil, errors.New("pipeline: no thresholds")
	}
	if cfg.Table == nil {
		cfg.Table = Table()
	}
	r := &Run{cfg: cfg, datasets: map[string]*dataset{}, artifacts: map[string][]byte{}, schema: seed.Trades(),
		recorded: map[string]evidence.Check{}}
	a, err := api.New(r.cfg.Profile, cfg.Target.BaseURL(), secrets(r.cfg.Profile, cfg.Target))
	if err != nil {
		return nil, err
	}
	r.api, r.caps = a, CapabilitiesOf(cfg.Target, cfg.Baseline, r.cfg.Profile)
	r.caps.Soak = cfg.Soak.Duration > 0
	r.caps.Compare = cfg.Compare != nil
	r.http = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	r.stall = &http.Client{Transport: smallReceiveBuffer()}
	d, err := a.Dialect()
	if err != nil {
		return nil, err
	}
	r.seeder = &seed.Client{API: a.Seeder(), HTTP: r.http}
	proof := a.Proof()
	r.exports = &export.Client{API: a, HTTP: r.http, Dialect: &d, Proof: &proof}
	return r, nil
}

// undeclaredHold is how many CSV exports the saturation probe holds on each replica of an API
// that declares no capacity: more than a service is commonly configured to run at once (this
// exporter's default is 16), fewer than the held exports' connections would strain the machine.
const undeclaredHold = 32

// saturationHold is how many CSV exports held unread saturate a deployment of replicas with the
// limits l behind a round-robin proxy: one more than all of them hold together, so at least one is
// full and every request after it finds every replica full.
func saturationHold(l profile.Limits, replicas int) int {
	per := l.Concurrent["csv"]
	if per <= 0 {
		per = undeclaredHold - 1
	}
	return max(1, replicas)*per + 1
}

// secrets are the environment's, but for the token the target knows (a target the run starts
// gives the exporter a fresh one; a url target takes --token): that one stands for the profile's
// token variable, and an empty one, with the variable unset, sends none.
func secrets(p *profile.Profile, t target.Target) api.Secrets {
	env := p.Connection.Auth.TokenEnv
	if _, set := api.Env(env); env != "" && (t.Token() != "" || !set) {
		return api.Over(map[string]string{env: t.Token()}, api.Env)
	}
	return api.Env
}

// client is the run's export client over another HTTP client (the stalled readers').
func (r *Run) client(hc *http.Client) *export.Client {
	c := *r.exports
	c.HTTP = hc
	return &c
}

// Artifacts are the raw measurements for the evidence bundle, by file name.
func (r *Run) Artifacts() map[string][]byte { return r.artifacts }

func (r *Run) say(s string) {
	if r.cfg.Narrate != nil {
		r.cfg.Narrate(s)
	}
}

var nameUnsafe = regexp.MustCompile(`[^a-z0-9_-]`)

// datasetName makes a dataset name unique to this run.
func (r *Run) datasetName(kind string) string {
	s := nameUnsafe.ReplaceAllString(strings.ToLower(r.cfg.Suffix), "")
	if s == "" {
		return kind
	}
	return kind + "-" + s
}

func jsonArtifact(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return []byte(err.Error())
	}
	return append(b, '\n')
}

// verifyCSV fetches and fully verifies one CSV export, counting it for A1, A2, A5 and A6.
func (r *Run) verifyCSV(ctx context.Context, exp *export.Expected) export.CSVReport {
	rep := r.exports.CSV(ctx, exp)
	r.tally.Add(rep)
	return rep
}

func (r *Run) verifyPDF(ctx context.Context, exp *export.Expected) export.PDFReport {
	rep := r.exports.PDF(ctx, exp)
	r.tally.Add(rep)
	return rep
}

func describeFetch(f export.Fetch) string {
	msg := fmt.Sprintf(" (%s, status %d", f.Path, f.Status)
	if f.Err != "" {
		msg += ": " + f.Err
	}
	if f.Body != "" {
		msg += ": " + f.Body
	}
	return msg + ")"
}

// withDefaults is s with each zero count taken from d. PDFShare is left as it is: 0 is a share.
func withDefaults(s, d contract.Sizes) contract.Sizes {
	for _, f := range []struct{ v, def *int }{
		{&s.SmokeRows, &d.SmokeRows}, {&s.SmokeSingle, &d.SmokeSingle}, {&s.LoadRows, &d.LoadRows}, {&s.LargeRows, &d.LargeRows},
		{&s.BulkRows, &d.BulkRows}, {&s.HeldRows, &d.HeldRows}, {&s.LoadRequests, &d.LoadRequests},
		{&s.LoadConcurrency, &d.LoadConcurrency}, {&s.BurstRequests, &d.BurstRequests},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	return s
}
