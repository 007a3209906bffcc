package main

import (
	"bytes"
	"context"
	"reflect"
	"testing"

	"github.com/exportatscale/exportatscale/harness/pipeline"
	"github.com/exportatscale/exportatscale/harness/profile"
)

// notRequired are the checks that --profile-check says a run with no more than a profile does not
// require, whatever the profile: the soak, the cross-run and A/B comparisons, and the faults of a
// deployment.
const notRequired = "  soak: no --soak duration was given, so the check is not required\n" +
	"  baseline: no --baseline was given, so the check is not required\n" +
	"  regression: no --compare-image or --compare-url was given, so the check is not required\n" +
	"  F1: the target is not a deployment of replicas behind a proxy, so the check is not required\n" +
	"  F2: the target is not a deployment with its own database, so the check is not required\n"

// TestRunProfileCheck runs --profile-check in-process: a good profile prints what it declares and
// the checks that would not apply, and exits 0; a bad one prints each problem and exits 2. No
// suite is built and nothing is written.
func TestRunProfileCheck(t *testing.T) {
	const testdata = "../../../harness/profile/testdata/"
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"v1", []string{"--profile-check", "../../../profiles/v1.yaml"}, 0,
			"profile exportatscale-v1 (../../../profiles/v1.yaml): valid\n" +
				"declares: columns, resume, limit, bom, pdf, truncation, metrics, protection, memory, single\n" +
				"not applicable:\n" +
				notRequired +
				"limits: rate 100/s, burst 50; concurrent 10 csv, 2 pdf exports; stalled reader cut after 4s\n" +
				"service env:\n  EXPORTER_BURST=50\n  EXPORTER_DATA_DIR={data_dir}\n  EXPORTER_LISTEN={listen}\n" +
				"  EXPORTER_MAX_CSV_EXPORTS=10\n  EXPORTER_MAX_PDF_EXPORTS=2\n  EXPORTER_PDF_MAX_ROWS=20000\n" +
				"  EXPORTER_RATE=100\n  EXPORTER_SHUTDOWN_GRACE=15s\n  EXPORTER_TOKENS_FILE={tokens_file}\n" +
				"  EXPORTER_WRITE_TIMEOUT=4s\n", ""},
		// The fake exporter's second shape, through which the self-tests judge their broken fakes too.
		{"fake second shape", []string{"--profile-check", "../../../harness/selftest/testdata/fake-second.yaml"}, 0,
			"profile fake-second (../../../harness/selftest/testdata/fake-second.yaml): valid\n" +
				"declares: columns, resume, limit, truncation, metrics, protection\n" +
				"not applicable:\n" +
				"  A4: the profile's service is a url, whose memory cannot be watched from outside, so the check is not required\n" +
				notRequired +
				"limits: rate not declared; concurrent not declared; stalled reader cut after (not declared: the probe waits 30s)\n", ""},
		{"minimal", []string{"--profile-check", testdata + "good-minimal.yaml"}, 0,
			"profile minimal (" + testdata + "good-minimal.yaml): valid\n" +
				"declares: remove\n" +
				"not applicable:\n" +
				"  A4: the profile's service is a url, whose memory cannot be watched from outside, so the check is not required\n" +
				"  A6: the profile maps none of the API's metrics, so the check is not required\n" +
				notRequired +
				"limits: rate not declared; concurrent not declared; stalled reader cut after (not declared: the probe waits 30s)\n", ""},
		{"bad value", []string{"--profile-check", testdata + "bad-line-ending.yaml"}, 2, "",
			"verify: " + testdata + `bad-line-ending.yaml:54: export.csv.dialect.line_ending: "cr" is not one of crlf, lf` + "\n"},
		{"several problems", []string{"--profile-check", testdata + "bad-secret-and-unknown-keys.yaml"}, 2, "",
			"verify: " + testdata + "bad-secret-and-unknown-keys.yaml:4: connection.auth: missing token_env\n" +
				"verify: " + testdata + "bad-secret-and-unknown-keys.yaml:6: connection.auth.token: a literal secret is not " +
				"allowed: name the environment variable that holds it (token_env)\n" +
				"verify: " + testdata + "bad-secret-and-unknown-keys.yaml:56: export.csv.dialect.quote_char: unknown key\n"},
		{"missing", []string{"--profile-check", "testdata/nonexistent.yaml"}, 2, "",
			"verify: testdata/nonexistent.yaml: no such file or directory\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, nil)
			var stdout, stderr bytes.Buffer
			verdict, err := run(context.Background(), tt.args, noEnv, &stdout, &stderr)
			if code := exit(&stderr, verdict, err); code != tt.code {
				t.Errorf("exit status %d, want %d", code, tt.code)
			}
			if got := stdout.String(); got != tt.stdout {
				t.Errorf("stdout\n got %q\nwant %q", got, tt.stdout)
			}
			if got := stderr.String(); got != tt.stderr {
				t.Errorf("stderr\n got %q\nwant %q", got, tt.stderr)
			}
		})
	}
}

// TestNotApplicable maps capabilities to the checks that would not apply: the table's own
// reasons (a baseline or a soak given or not) and the profile's.
func TestNotApplicable(t *testing.T) {
	all := profile.Capabilities{Columns: true, Resume: true, Limit: true, BOM: true, PDF: true, Truncation: true,
		Metrics: true, Protection: true, Memory: true, Single: true, Remove: true}
	tests := []struct {
		name string
		run  pipeline.Capabilities
		caps profile.Capabilities
		want []string
	}{
		{"everything declared", pipeline.Capabilities{}, all, []string{"soak", "baseline", "regression", "F1", "F2"}},
		{"everything, with a baseline", pipeline.Capabilities{Baseline: true}, all, []string{"soak", "regression", "F1", "F2"}},
		{"everything, with a compare target", pipeline.Capabilities{Baseline: true, Compare: true}, all, []string{"soak", "F1", "F2"}},
		{"nothing declared", pipeline.Capabilities{Baseline: true}, profile.Capabilities{},
			[]string{"A4", "A6", "soak", "regression", "F1", "F2"}},
		{"a cluster that cannot resume", pipeline.Capabilities{Replicas: true, Database: true, Baseline: true},
			profile.Capabilities{Truncation: true, Memory: true, Metrics: true, Protection: true}, []string{"soak", "regression", "F1"}},
		{"a cluster of a url service", pipeline.Capabilities{Replicas: true, Database: true, Baseline: true},
			profile.Capabilities{Truncation: true, Resume: true, Metrics: true}, []string{"A4", "soak", "regression"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, s := range notApplicable(pipeline.Table(), tt.run, tt.caps) {
				if s.reason == "" {
					t.Errorf("%s without a reason", s.id)
				}
				got = append(got, s.id)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("not applicable: %v, want %v", got, tt.want)
			}
		})
	}
}
