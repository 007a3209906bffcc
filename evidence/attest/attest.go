package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	trv0 "github.com/in-toto/attestation/go/predicates/test_result/v0"
	v1 "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/proto"

	"github.com/exportatscale/exportatscale/evidence"
)

// Errors Verify wraps, one for each way an attestation can fail to vouch for a bundle. A bundle
// whose files do not match SHA256SUMS yields evidence.ErrTampered instead.
var (
	// ErrSignature: the envelope is not signed by the key, or was altered after signing.
	ErrSignature = errors.New("attestation signature does not verify")
	// ErrStatement: the signed payload is not an in-toto test-result statement, or contradicts the
	// bundle it names.
	ErrStatement = errors.New("attestation is not a test-result statement for this bundle")
	// ErrSubject: the SHA256SUMS the attestation signed is not the bundle's.
	ErrSubject = errors.New("attestation does not cover this bundle")
	// ErrImage: the attestation does not name the image digest asked for.
	ErrImage = errors.New("attestation is not about that image")
	// ErrNotGreen: everything verifies, but the verdict signed is not GREEN.
	ErrNotGreen = errors.New("verdict is not GREEN")
)

// Options qualify a new attestation.
type Options struct {
	// URL is the CI run's URL, recorded as the predicate's url; empty leaves it out.
	URL string
}

// Sign verifies the bundle in dir (evidence.VerifyBundle) and writes dir/attestation.intoto.json
// signed by s, replacing any earlier attestation. It signs whatever the verdict (a RED run gets a
// FAILED attestation) but never a bundle that does not verify. When s can also verify (a key
// loaded with LoadPrivateKey can), the envelope is verified before it is written. It returns the
// statement signed.
func Sign(ctx context.Context, dir string, s dsse.Signer, opts Options) (*v1.Statement, error) {
	r, err := evidence.VerifyBundle(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	for _, a := range r.Artifacts {
		if a.Path == FileName {
			return nil, fmt.Errorf("%s: the bundle lists its own %s, which signing would overwrite", dir, FileName)
		}
	}
	sums, err := evidence.HashFile(filepath.Join(dir, evidence.FileSums))
	if err != nil {
		return nil, err
	}
	thresholds, err := rawThresholds(dir)
	if err != nil {
		return nil, err
	}
	st, err := newStatement(r, sums.SHA256, thresholds, opts.URL)
	if err != nil {
		return nil, err
	}
	payload, err := marshalStatement(st)
	if err != nil {
		return nil, err
	}
	es, err := dsse.NewEnvelopeSigner(s)
	if err != nil {
		return nil, err
	}
	env, err := es.SignPayload(ctx, PayloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if v, ok := s.(dsse.Verifier); ok {
		if _, _, err := verifyEnvelope(ctx, env, v); err != nil {
			return nil, fmt.Errorf("the new signature does not verify with its own key: %w", err)
		}
	}
	b, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(dir, FileName), append(b, '\n')); err != nil {
		return nil, err
	}
	return st, nil
}

// Want is what Verify must find beyond a valid signature over an intact bundle.
type Want struct {
	// ImageDigest ("sha256:<hex>"), when set, must be the digest of one of the subjects.
	ImageDigest string
}

// Result is what a verified attestation says.
type Result struct {
	Report    evidence.Report  // the bundle's report, verified
	Statement *v1.Statement    // the statement as signed
	Predicate *trv0.TestResult // its test-result predicate
	KeyID     string           // the key ID of the signature that verified
}

// Verify checks dir/attestation.intoto.json against the bundle in dir and the key v, in this order,
// and returns the first failure: the signature is valid for v (ErrSignature) and the payload is a
// test-result statement (ErrStatement); every file matches SHA256SUMS (evidence.ErrTampered); the
// statement's SHA256SUMS subject is the file's digest (ErrSubject) and its image subject, result
// and profile entry agree with evidence.json (ErrStatement); the image digest is a subject, when want names one
// (ErrImage); the verdict is GREEN (ErrNotGreen). The Result is filled as far as verification got.
func Verify(ctx context.Context, dir string, v dsse.Verifier, want Want) (Result, error) {
	var res Result
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		return res, err
	}
	var env dsse.Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return res, fmt.Errorf("%w: %s: %w", ErrSignature, FileName, err)
	}
	accepted, payload, err := verifyEnvelope(ctx, &env, v) // payload: the bytes just verified
	if err != nil {
		return res, err
	}
	res.KeyID = accepted.KeyID
	if env.PayloadType != PayloadType {
		return res, fmt.Errorf("%w: payload type %q, want %q", ErrStatement, env.PayloadType, PayloadType)
	}
	res.Statement, res.Predicate, err = parseStatement(payload)
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrStatement, err)
	}

	res.Report, err = evidence.VerifyBundle(dir)
	if err != nil {
		return res, err
	}

	sums, err := evidence.HashFile(filepath.Join(dir, evidence.FileSums))
	if err != nil {
		return res, err
	}
	if signed := subjectDigest(res.Statement, sumsSubject); signed != sums.SHA256 {
		return res, fmt.Errorf("%w: %s has SHA-256 %s, the attestation signed %q", ErrSubject, evidence.FileSums, sums.SHA256, signed)
	}
	if err := agrees(res.Statement, res.Predicate, res.Report); err != nil {
		return res, fmt.Errorf("%w: %w", ErrStatement, err)
	}

	if want.ImageDigest != "" {
		h, err := parseDigest(want.ImageDigest)
		if err != nil {
			return res, fmt.Errorf("%w: %w", ErrImage, err)
		}
		if !hasSubjectDigest(res.Statement, h) {
			have := res.Report.Environment.ImageDigest
			if have == "" {
				have = "none"
			}
			return res, fmt.Errorf("%w: want image %s, the attestation's image is %s", ErrImage, want.ImageDigest, have)
		}
	}

	if res.Report.Verdict != evidence.Green {
		return res, fmt.Errorf("%w: the signed verdict is %s (%s)", ErrNotGreen, res.Report.Verdict, res.Predicate.GetResult())
	}
	return res, nil
}

// verifyEnvelope checks env's signature with v over the payload bytes as stored in env, and
// returns the key that verified and those bytes.
func verifyEnvelope(ctx context.Context, env *dsse.Envelope, v dsse.Verifier) (dsse.AcceptedKey, []byte, error) {
	ev, err := dsse.NewEnvelopeVerifier(v)
	if err != nil {
		return dsse.AcceptedKey{}, nil, err
	}
	accepted, payload, err := ev.VerifyAndDecode(ctx, env)
	if err == nil && len(accepted) == 0 {
		err = errors.New("no signature by this key")
	}
	if err != nil {
		keyID, _ := v.KeyID()
		return dsse.AcceptedKey{}, nil, fmt.Errorf("%w: no valid signature by key %s (%w)", ErrSignature, keyID, err)
	}
	return accepted[0], payload, nil
}

// agrees checks that what the statement says about the run is what the verified report says: a
// signer that named another image, another result or another profile entry than the bundle's has
// signed something else.
func agrees(st *v1.Statement, tr *trv0.TestResult, r evidence.Report) error {
	want := resultFailed
	if r.Verdict == evidence.Green {
		want = resultPassed
	}
	if tr.GetResult() != want {
		return fmt.Errorf("result %s, but the bundle's verdict is %s", tr.GetResult(), r.Verdict)
	}
	image := ""
	if d := r.Environment.ImageDigest; d != "" {
		image, _ = parseDigest(d) // Sign refused a malformed one
	}
	images := 0
	for _, s := range st.GetSubject() {
		if s.GetName() == sumsSubject {
			continue
		}
		images++
		if image == "" || s.GetDigest()["sha256"] != image {
			return fmt.Errorf("subject %q is not the bundle's image (%q)", s.GetName(), r.Environment.ImageDigest)
		}
	}
	if image != "" && images == 0 {
		return fmt.Errorf("no subject for the bundle's image %s", r.Environment.ImageDigest)
	}
	return agreesOnProfile(tr, r)
}

// agreesOnProfile checks that the statement's "profile" entry is the one the report gives: the
// same profile, the same checks and measures not applicable, the same waivers, or none of it.
func agreesOnProfile(tr *trv0.TestResult, r evidence.Report) error {
	want, err := profileEntry(r)
	if err != nil {
		return err
	}
	var got *v1.ResourceDescriptor
	for _, c := range tr.GetConfiguration() {
		if c.GetName() == profileName {
			if got != nil {
				return fmt.Errorf("configuration names %q twice", profileName)
			}
			got = c
		}
	}
	switch {
	case want == nil && got != nil:
		return fmt.Errorf("configuration %q, but the bundle's run had no profile and left nothing out", profileName)
	case want != nil && !proto.Equal(want, got):
		return fmt.Errorf("configuration %q is not what the bundle's report gives (profile %q, %d not applicable, %d waived)",
			profileName, r.Profile, len(r.NotApplicable()), len(r.Waived()))
	}
	return nil
}

func hasSubjectDigest(st *v1.Statement, h string) bool {
	for _, s := range st.GetSubject() {
		if s.GetName() != sumsSubject && s.GetDigest()["sha256"] == h {
			return true
		}
	}
	return false
}

// rawThresholds returns evidence.json's "thresholds" object as written.
func rawThresholds(dir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, evidence.FileJSON))
	if err != nil {
		return nil, err
	}
	var doc struct {
		Thresholds json.RawMessage `json:"thresholds"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", evidence.FileJSON, err)
	}
	if len(doc.Thresholds) == 0 || bytes.Equal(doc.Thresholds, []byte("null")) {
		return nil, fmt.Errorf("%s records no thresholds", evidence.FileJSON)
	}
	return doc.Thresholds, nil
}

// writeAtomic replaces path with b, so a reader never sees half an attestation.
func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing left to remove
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
