package options

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/internal/envflag"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

// setEnv gives the test exactly the EnvPrefix_* variables of env (testkit.SetEnv).
func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	testkit.SetEnv(t, EnvPrefix, env)
}

// register is Defaults registered on a new flag set under env.
func register(t *testing.T, env map[string]string) (*Options, *flag.FlagSet, error) {
	t.Helper()
	setEnv(t, env)
	o := Defaults()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &o, fs, o.Register(fs)
}

func TestRegister(t *testing.T) {
	parse := func(args []string) (Options, error) {
		o := Defaults()
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		if err := o.Register(fs); err != nil {
			return o, err
		}
		return o, fs.Parse(args)
	}
	testkit.RunEnvFlagCases(t, EnvPrefix, Defaults, parse, []testkit.EnvFlagCase[Options]{
		{Name: "defaults", Want: func(o *Options) {}},
		{Name: "every variable",
			Env: map[string]string{
				"VERIFY_TARGET": "url", "VERIFY_REQUIRE_TARGET": "true", "VERIFY_IMAGE": "img", "VERIFY_URL": "http://h:1", "VERIFY_TOKEN": "tok", "VERIFY_REPLICAS": "3",
				"VERIFY_SMOKE_ROWS": "1", "VERIFY_LOAD_ROWS": "2", "VERIFY_LOAD_CONCURRENCY": "3", "VERIFY_LOAD_REQUESTS": "4",
				"VERIFY_PDF_SHARE": "0.5", "VERIFY_LARGE_ROWS": "5", "VERIFY_WRITE_TIMEOUT": "6s", "VERIFY_THRESHOLDS": "th.json",
				"VERIFY_BASELINE": "base", "VERIFY_OUT": "o", "VERIFY_RUN_ID": "r", "VERIFY_SEED": "7", "VERIFY_TIMEOUT": "8m",
				"VERIFY_SOAK": "9m", "VERIFY_SOAK_RATE": "2.5",
			},
			Want: func(o *Options) {
				o.Target, o.RequireTarget, o.Image, o.URL, o.Token, o.Replicas = "url", true, "img", "http://h:1", "tok", 3
				o.SmokeRows, o.LoadRows, o.LoadConcurrency, o.LoadRequests = 1, 2, 3, 4
				o.PDFShare, o.LargeRows, o.WriteTimeout, o.Thresholds = 0.5, 5, 6*time.Second, "th.json"
				o.Baseline = "base"
				o.OutDir, o.RunID, o.Seed, o.Timeout = "o", "r", 7, 8*time.Minute
				o.Soak, o.SoakRate = 9*time.Minute, 2.5
			}},
		{Name: "flag overrides env",
			Env:  map[string]string{"VERIFY_SEED": "1", "VERIFY_LOAD_ROWS": "2", "VERIFY_REQUIRE_TARGET": "true"},
			Args: []string{"--seed=3", "--require-target=false"},
			Want: func(o *Options) { o.Seed, o.LoadRows = 3, 2 }},
		{Name: "empty env is unset", Env: map[string]string{"VERIFY_OUT": "", "VERIFY_SEED": ""}, Want: func(o *Options) {}},
		{Name: "malformed seed", Env: map[string]string{"VERIFY_SEED": "x"}, WantErr: `environment variable "VERIFY_SEED"`},
		{Name: "malformed timeout", Env: map[string]string{"VERIFY_TIMEOUT": "10"}, WantErr: `environment variable "VERIFY_TIMEOUT"`},
	})
}

// TestEnvVarPerFlag sets each flag's variable, named as its usage says, to "7": the flag takes it
// as its default, or Register refuses it naming the variable. Either way ff read the variable
// envVar names.
func TestEnvVarPerFlag(t *testing.T) {
	_, all, err := register(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	all.VisitAll(func(f *flag.Flag) {
		n++
		t.Run(f.Name, func(t *testing.T) {
			env := envflag.Var(EnvPrefix, f.Name)
			if want := "VERIFY_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")); env != want {
				t.Fatalf("envVar(%q) = %s, want %s", f.Name, env, want)
			}
			if !strings.HasSuffix(f.Usage, " (env "+env+")") {
				t.Errorf("--%s usage %q does not name %s", f.Name, f.Usage, env)
			}
			_, fs, err := register(t, map[string]string{env: "7"})
			switch g := fs.Lookup(f.Name); {
			case err != nil && !strings.Contains(err.Error(), `environment variable "`+env+`"`):
				t.Errorf("%s=7: error %q does not name it", env, err)
			case err == nil && (g.Value.String() != "7" || g.DefValue != "7"):
				t.Errorf("%s=7: --%s is %q (default %q), want 7", env, f.Name, g.Value, g.DefValue)
			}
		})
	})
	// The docs' table has one row more: verify's own --sign-key (scenarios/cmd/verify checks the
	// table against both).
	if n != 26 {
		t.Errorf("%d flags, want the 26 the suite takes", n)
	}
}

// TestArgsReproduce: the flags Args renders, parsed over the defaults, give the options back, with
// every flag given explicitly so the suite's environment cannot change a forwarded option.
func TestArgsReproduce(t *testing.T) {
	setEnv(t, nil)
	o := Options{Target: "url", RequireTarget: true, Image: "exportatscale/exporter:dev", URL: "http://h:1", Token: "t", Replicas: 3, SmokeRows: 1, LoadRows: 2,
		LoadConcurrency: 3, LoadRequests: 4, PDFShare: 0.125, LargeRows: 5, WriteTimeout: 1500 * time.Millisecond,
		Thresholds: "/th.json", Baseline: "/evidence/out/base",
		CompareURL: "http://127.0.0.1:2", CompareToken: "b", ComparePairs: 30, OutDir: "/out", RunID: "r-1", Seed: 1 << 63, Timeout: time.Hour}
	t.Setenv("VERIFY_LOAD_ROWS", "99")
	got := Defaults()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	if err := got.Register(fs); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse(o.Args()); err != nil {
		t.Fatalf("Parse(%q): %v", o.Args(), err)
	}
	if got != o {
		t.Errorf("Args %q read back as\n %+v\nwant %+v", o.Args(), got, o)
	}
	if n := len(Defaults().Args()); n != 26 {
		t.Errorf("Args has %d flags, want 26", n)
	}
}

// TestValidateTarget: each target kind with what it needs, and what is for another kind refused.
func TestValidateTarget(t *testing.T) {
	for _, tt := range []struct {
		target, url, image string
		err                string // "" for valid
	}{
		{target: ""},
		{target: "container"},
		{target: "process"},
		{target: "cluster"},
		{target: "url", url: "http://h:1"},
		{target: "image", image: "exportatscale/exporter:dev"},
		{target: "url", err: "--target url needs --url"},
		{target: "image", err: "--target image needs --image"},
		{target: "container", image: "x", err: "--image is for --target image"},
		{target: "image", image: "x", url: "http://h:1", err: "--url is for --target url"},
		{target: "vm", err: `--target "vm" is not container, image, process, url or cluster`},
	} {
		o := Defaults()
		o.Target, o.URL, o.Image = tt.target, tt.url, tt.image
		err := o.Validate()
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("target %q, url %q, image %q: Validate = %v, want %q", tt.target, tt.url, tt.image, err, tt.err)
		}
	}
}

// TestValidateSoak: a soak of a minute or more, a rate only with a soak, and the run's limit
// extended by the soak.
func TestValidateSoak(t *testing.T) {
	for _, tt := range []struct {
		soak time.Duration
		rate float64
		err  string
	}{
		{soak: 0},
		{soak: 2 * time.Minute, rate: 4},
		{soak: 30 * time.Second, err: "--soak must be 1m or longer"},
		{soak: -time.Minute, err: "--soak must be within"},
		{soak: 25 * time.Hour, err: "--soak must be within"},
		{rate: 3, err: "--soak-rate is for a run with --soak"},
		{soak: time.Minute, rate: -1, err: "--soak-rate must be within"},
	} {
		o := Defaults()
		o.Soak, o.SoakRate = tt.soak, tt.rate
		err := o.Validate()
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("--soak %s --soak-rate %v: Validate = %v, want %q", tt.soak, tt.rate, err, tt.err)
		}
	}
	o := Defaults()
	o.Soak = 10 * time.Minute
	if got := o.RunTimeout(); got != o.Timeout+10*time.Minute {
		t.Errorf("RunTimeout = %s, want --timeout plus the soak", got)
	}
}
