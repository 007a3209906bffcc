package attest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/attest"
	"github.com/exportatscale/exportatscale/harness/pipeline"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

// profileBundle is a run driven by the profile "clickhouse": A6 does not apply to the API (and is
// not required), A1's trailer measure does not either, A5 has a waived measure that breaks its
// rule and one that holds. With broken, A1 also has a measure that fails and is not waived.
func profileBundle(t *testing.T, broken bool) string {
	t.Helper()
	rules := testkit.Thresholds(t)
	ids := slices.DeleteFunc(pipeline.Planned(pipeline.Table(), pipeline.Capabilities{}), func(id string) bool { return id == "A6" })
	waive := func(m evidence.Measure, why string) evidence.Measure { m.Waived = why; return m }
	return testkit.Bundle(t, testkit.BundleOf{IDs: ids, Profile: "clickhouse", Monitoring: monitoring,
		Environment: evidence.Environment{Target: "url", GitCommit: "abc"},
		Edit: func(checks []evidence.Check) []evidence.Check {
			for i, c := range checks {
				switch c.ID {
				case "A1":
					missing := 0.0
					if broken {
						missing = 3
					}
					checks[i] = evidence.NewCheck("A1", "", []evidence.Measure{evidence.Judge(rules, "a1.missing_rows", missing, ""),
						evidence.NotApplicableMeasure("a1.trailer_mismatches", "the API writes no trailer")}, nil)
				case "A5":
					checks[i] = evidence.NewCheck("A5", "", []evidence.Measure{
						waive(evidence.Judge(rules, "a5.saturated_without_retry_after", 4, ""), "overload answers 502"),
						waive(evidence.Judge(rules, "a5.rate_limited_without_retry_after", 0, ""), "no rate limit")}, nil)
				}
			}
			return append(checks, evidence.Check{ID: "A6", Title: "observable", Status: evidence.StatusNotApplicable, Reason: "no metrics endpoint"})
		}})
}

// configEntry is one entry of a statement's configuration, annotations included.
type configEntry struct {
	Name        string            `json:"name"`
	MediaType   string            `json:"mediaType"`
	Digest      map[string]string `json:"digest"`
	Annotations map[string]any    `json:"annotations"`
}

// profileStatement is the part of a statement the profile adds.
type profileStatement struct {
	Predicate struct {
		Result        string        `json:"result"`
		Configuration []configEntry `json:"configuration"`
		PassedTests   []string      `json:"passedTests"`
		FailedTests   []string      `json:"failedTests"`
	} `json:"predicate"`
}

// TestStatementProfile: the statement's configuration names the profile and lists, with their
// reasons, what does not apply to the API and what was waived; a waived measure does not fail its
// check, and a check that does not apply is neither passed nor failed.
func TestStatementProfile(t *testing.T) {
	key, pub := keyPair(t)
	for _, broken := range []bool{false, true} {
		dir := profileBundle(t, broken)
		if _, err := attest.Sign(context.Background(), dir, key, attest.Options{}); err != nil {
			t.Fatal(err)
		}
		var st profileStatement
		testkit.Attestation(t, dir, &st)
		p := st.Predicate
		want := map[string]any{
			"profile": "clickhouse",
			"not_applicable": []any{
				map[string]any{"check": "A1", "measure": "a1.trailer_mismatches", "reason": "the API writes no trailer"},
				map[string]any{"check": "A6", "reason": "no metrics endpoint"},
			},
			"waived": []any{
				map[string]any{"check": "A5", "measure": "a5.saturated_without_retry_after", "reason": "overload answers 502", "holds": false},
				map[string]any{"check": "A5", "measure": "a5.rate_limited_without_retry_after", "reason": "no rate limit", "holds": true},
			},
		}
		i := slices.IndexFunc(p.Configuration, func(c configEntry) bool { return c.Name == "profile" })
		if i < 0 {
			t.Fatalf("no profile in the configuration: %+v", p.Configuration)
		}
		entry := p.Configuration[i]
		if !reflect.DeepEqual(entry.Annotations, want) {
			t.Errorf("profile annotations %v, want %v", entry.Annotations, want)
		}
		b, _ := json.Marshal(want) // compact, keys sorted
		if sum := sha256.Sum256(b); entry.Digest["sha256"] != hex.EncodeToString(sum[:]) || entry.MediaType != "application/json" {
			t.Errorf("profile entry %s %v, want the SHA-256 of %s", entry.MediaType, entry.Digest, b)
		}
		if slices.Contains(p.PassedTests, "A6") || slices.Contains(p.FailedTests, "A6") || !slices.Contains(p.PassedTests, "A5") {
			t.Errorf("passed %q, failed %q", p.PassedTests, p.FailedTests)
		}
		_, err := attest.Verify(context.Background(), dir, pub, attest.Want{})
		switch {
		case !broken && (p.Result != "PASSED" || err != nil):
			t.Errorf("only waived measures fail: result %s, Verify: %v", p.Result, err)
		case broken && (p.Result != "FAILED" || !errors.Is(err, attest.ErrNotGreen) || !slices.Equal(p.FailedTests, []string{"A1"})):
			t.Errorf("a measure not waived fails: result %s, failed %q, Verify: %v", p.Result, p.FailedTests, err)
		}
	}
}

// A statement whose profile entry is not what the bundle's report gives does not vouch for it,
// even signed with the right key: another reason, or a profile where the run had none.
func TestVerifyProfileMismatch(t *testing.T) {
	key, pub := keyPair(t)
	ctx := context.Background()
	resign := func(t *testing.T, dir string, edit func([]byte) []byte) {
		t.Helper()
		env, _ := readEnvelope(t, dir)
		payload, _ := base64.StdEncoding.DecodeString(env.Payload)
		es, err := dsse.NewEnvelopeSigner(key)
		if err != nil {
			t.Fatal(err)
		}
		e, err := es.SignPayload(ctx, env.PayloadType, edit(payload))
		if err != nil {
			t.Fatal(err)
		}
		writeEnvelope(t, dir, *e)
	}
	dir := profileBundle(t, false)
	if _, err := attest.Sign(ctx, dir, key, attest.Options{}); err != nil {
		t.Fatal(err)
	}
	resign(t, dir, func(b []byte) []byte {
		if !bytes.Contains(b, []byte("no metrics endpoint")) {
			t.Fatal("no reason in the statement")
		}
		return bytes.Replace(b, []byte("no metrics endpoint"), []byte("no metrics endpoint either"), 1)
	})
	if _, err := attest.Verify(ctx, dir, pub, attest.Want{}); !errors.Is(err, attest.ErrStatement) || !strings.Contains(err.Error(), `configuration "profile"`) {
		t.Errorf("another reason: Verify: %v", err)
	}

	plain := signed(t, key, image, nil)
	resign(t, plain, func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"configuration":[`), []byte(`"configuration":[{"name":"profile","annotations":{"profile":"x"}},`), 1)
	})
	if _, err := attest.Verify(ctx, plain, pub, attest.Want{}); !errors.Is(err, attest.ErrStatement) || !strings.Contains(err.Error(), "had no profile") {
		t.Errorf("a profile the run did not have: Verify: %v", err)
	}
}
