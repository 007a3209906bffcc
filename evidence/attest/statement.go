package attest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	trv0 "github.com/in-toto/attestation/go/predicates/test_result/v0"
	v1 "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/exportatscale/exportatscale/evidence"
)

// The identifiers an attestation is made of.
const (
	// FileName is the attestation's name inside the bundle directory.
	FileName = "attestation.intoto.json"
	// PayloadType is the DSSE payload type of an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
	// PredicateType is the in-toto test-result predicate, v0.1.
	PredicateType = "https://in-toto.io/attestation/test-result/v0.1"
)

// The predicate's results. WARNED ("passed with warnings") is never written: a run is GREEN or not.
const (
	resultPassed = "PASSED"
	resultWarned = "WARNED"
	resultFailed = "FAILED"
)

// sumsSubject is the name of the subject that pins the bundle.
const sumsSubject = evidence.FileSums

// thresholdsName names the configuration entry of the rules the run was judged by.
const thresholdsName = "thresholds"

// profileName names the configuration entry of the profile the run was driven by and what it left
// out of the verdict.
const profileName = "profile"

// newStatement builds the statement for the verified report r: sums is the SHA-256 (hex) of the
// bundle's SHA256SUMS, thresholds the thresholds object exactly as evidence.json records it, url
// the CI run's URL or empty.
func newStatement(r evidence.Report, sums string, thresholds []byte, url string) (*v1.Statement, error) {
	subjects := []*v1.ResourceDescriptor{{Name: sumsSubject, Digest: map[string]string{"sha256": sums}}}
	if d := r.Environment.ImageDigest; d != "" {
		hexDigest, err := parseDigest(d)
		if err != nil {
			return nil, fmt.Errorf("%s: environment.image_digest: %w", evidence.FileJSON, err)
		}
		// The image is named by its reference where the run recorded one (image target), else by
		// its digest.
		name := d
		if r.Environment.Image != "" {
			name = r.Environment.Image
		}
		subjects = append([]*v1.ResourceDescriptor{{Name: name, Digest: map[string]string{"sha256": hexDigest}}}, subjects...)
	}

	config, err := configuration(r, thresholds)
	if err != nil {
		return nil, err
	}
	passed, failed := testLists(r)
	tr := &trv0.TestResult{
		Result:        resultFailed,
		Configuration: config,
		Url:           url,
		PassedTests:   passed,
		FailedTests:   failed,
	}
	if r.Verdict == evidence.Green {
		tr.Result = resultPassed
	}
	predicate, err := toStruct(tr)
	if err != nil {
		return nil, err
	}
	st := &v1.Statement{
		Type:          v1.StatementTypeUri,
		Subject:       subjects,
		PredicateType: PredicateType,
		Predicate:     predicate,
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	return st, nil
}

// configuration lists what the run was judged by: the thresholds, digested as the compact JSON of
// evidence.json's "thresholds" object (the report records the rules, not the file they came from),
// then the monitoring files with the SHA-256 the run recorded.
func configuration(r evidence.Report, thresholds []byte) ([]*v1.ResourceDescriptor, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, thresholds); err != nil {
		return nil, fmt.Errorf("%s: thresholds: %w", evidence.FileJSON, err)
	}
	note, err := structpb.NewStruct(map[string]any{
		"source": evidence.FileJSON + " thresholds, compact JSON: the rules the run was judged by",
	})
	if err != nil {
		return nil, err
	}
	out := []*v1.ResourceDescriptor{{
		Name:        thresholdsName,
		MediaType:   "application/json",
		Digest:      map[string]string{"sha256": sha256Hex(compact.Bytes())},
		Annotations: note,
	}}
	for _, a := range r.Monitoring {
		out = append(out, &v1.ResourceDescriptor{Name: a.Path, Digest: map[string]string{"sha256": a.SHA256}})
	}
	p, err := profileEntry(r)
	if p != nil {
		out = append(out, p)
	}
	return out, err
}

// profileEntry is the configuration entry "profile" of a run driven by a profile, or that left
// anything out of its verdict; nil for any other run. Its annotations hold the profile's name
// ("profile", "" for none), what does not apply to the API ("not_applicable": check, measure when
// only one measure is meant, reason) and the waived measures ("waived": check, measure, reason,
// and whether it holds anyway), in the order of the checks, as evidence.Report.NotApplicable and
// Waived list them. Its digest is the SHA-256 of those annotations as compact JSON with sorted
// keys, so a policy can pin them.
func profileEntry(r evidence.Report) (*v1.ResourceDescriptor, error) {
	na, waived := r.NotApplicable(), r.Waived()
	if r.Profile == "" && len(na) == 0 && len(waived) == 0 {
		return nil, nil
	}
	list := func(es []evidence.Exclusion, holds bool) []any {
		out := []any{}
		for _, e := range es {
			item := map[string]any{"check": e.Check, "reason": e.Reason}
			if e.Measure != "" {
				item["measure"] = e.Measure
			}
			if holds {
				item["holds"] = e.Holds
			}
			out = append(out, item)
		}
		return out
	}
	fields := map[string]any{"profile": r.Profile, "not_applicable": list(na, false), "waived": list(waived, true)}
	b, err := json.Marshal(fields) // map keys sorted: one form, so one digest
	if err != nil {
		return nil, err
	}
	annotations, err := structpb.NewStruct(fields)
	if err != nil {
		return nil, fmt.Errorf("%s: profile: %w", evidence.FileJSON, err)
	}
	return &v1.ResourceDescriptor{Name: profileName, MediaType: "application/json",
		Digest: map[string]string{"sha256": sha256Hex(b)}, Annotations: annotations}, nil
}

// testLists sorts the checks into passed and failed test IDs, deciding each one with
// evidence.Decide as the verdict was decided, never from its recorded status. Required IDs come
// first, in order; one that did not run, or has no check at all, is failed. A check outside the
// required set is listed when it passed or failed and left out when it did not run.
func testLists(r evidence.Report) (passed, failed []string) {
	byID := map[string][]evidence.Check{}
	var order []string
	for _, c := range r.Checks {
		if _, ok := byID[c.ID]; !ok {
			order = append(order, c.ID)
		}
		byID[c.ID] = append(byID[c.ID], c)
	}
	seen := map[string]bool{}
	for _, id := range r.Required {
		if seen[id] {
			continue
		}
		seen[id] = true
		if evidence.Decide(byID[id], []string{id}) == evidence.Green {
			passed = append(passed, id)
		} else {
			failed = append(failed, id)
		}
	}
	for _, id := range order {
		if seen[id] {
			continue
		}
		switch evidence.Decide(byID[id], []string{id}) {
		case evidence.Green:
			passed = append(passed, id)
		case evidence.Red:
			failed = append(failed, id)
		}
	}
	return passed, failed
}

// toStruct converts a predicate message into the Statement's generic predicate.
func toStruct(tr *trv0.TestResult) (*structpb.Struct, error) {
	b, err := protojson.Marshal(tr)
	if err != nil {
		return nil, fmt.Errorf("encode predicate: %w", err)
	}
	var s structpb.Struct
	if err := protojson.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("encode predicate: %w", err)
	}
	return &s, nil
}

// marshalStatement encodes st once, compactly: these bytes are what is signed.
func marshalStatement(st *v1.Statement) ([]byte, error) {
	b, err := protojson.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode statement: %w", err)
	}
	// protojson varies its whitespace on purpose; compacting makes the payload reproducible.
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, fmt.Errorf("encode statement: %w", err)
	}
	return out.Bytes(), nil
}

// parseStatement decodes the signed payload into a statement and its test-result predicate.
func parseStatement(payload []byte) (*v1.Statement, *trv0.TestResult, error) {
	var st v1.Statement
	if err := protojson.Unmarshal(payload, &st); err != nil {
		return nil, nil, err
	}
	if st.GetType() != v1.StatementTypeUri {
		return nil, nil, fmt.Errorf("statement type %q, want %q", st.GetType(), v1.StatementTypeUri)
	}
	if err := st.Validate(); err != nil {
		return nil, nil, err
	}
	if st.GetPredicateType() != PredicateType {
		return nil, nil, fmt.Errorf("predicate type %q, want %q", st.GetPredicateType(), PredicateType)
	}
	b, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return nil, nil, err
	}
	var tr trv0.TestResult
	if err := protojson.Unmarshal(b, &tr); err != nil {
		return nil, nil, fmt.Errorf("predicate: %w", err)
	}
	switch tr.GetResult() {
	case resultPassed, resultWarned, resultFailed:
	default:
		return nil, nil, fmt.Errorf("predicate result %q, want PASSED, WARNED or FAILED", tr.GetResult())
	}
	return &st, &tr, nil
}

// sha256Hex is the digest of b as a subject records it: lowercase hex, without "sha256:".
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// parseDigest returns the hex of a "sha256:<64 hex>" digest.
func parseDigest(d string) (string, error) {
	h, ok := strings.CutPrefix(d, "sha256:")
	if b, err := hex.DecodeString(h); !ok || err != nil || len(b) != 32 || h != strings.ToLower(h) {
		return "", fmt.Errorf("digest %q is not sha256:<64 lowercase hex digits>", d)
	}
	return h, nil
}

// subjectDigest returns the sha256 of the subject named name, or "" if there is none.
func subjectDigest(st *v1.Statement, name string) string {
	for _, s := range st.GetSubject() {
		if s.GetName() == name {
			return s.GetDigest()["sha256"]
		}
	}
	return ""
}
