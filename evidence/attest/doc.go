// Package attest signs the verdict of an evidence bundle and checks such a signature.
//
// An attestation is the file attestation.intoto.json in the bundle's directory: a DSSE envelope
// (payloadType application/vnd.in-toto+json) holding an in-toto Statement v1 whose predicate is a
// test result (https://in-toto.io/attestation/test-result/v0.1), signed with an ed25519 key. This is
// the format cosign writes with attest-blob and reads with
//
//	cosign verify-blob-attestation --key PUB --insecure-ignore-tlog \
//	    --type https://in-toto.io/attestation/test-result/v0.1 \
//	    --signature DIR/attestation.intoto.json DIR/SHA256SUMS
//
// so a verifier does not need this repository's code.
//
// # What is signed
//
// The subjects are the bundle's SHA256SUMS (which lists the SHA-256 of every other file of the
// bundle, so the one digest pins them all) and, when the run recorded one, the image the run was
// judged against. The predicate says PASSED only for a GREEN verdict and FAILED otherwise;
// passedTests and failedTests list check IDs. A required check that did not run is listed among
// the failed tests: the test-result predicate has no "not run", its warnedTests means "passed with
// warnings", and a policy that accepts warned tests must never accept a check that never ran. A
// check outside the required set that did not run is left out, as it does not affect the verdict.
// The configuration lists the rules the run was judged by (the thresholds, recorded in
// evidence.json) and the alert rules and dashboard it was checked against, each with its SHA-256.
// A run driven by a profile, or that left anything out of its verdict, adds the entry "profile":
// its annotations name the profile and list, each with its reason, the checks and measures that
// do not apply to the API (not_applicable) and the waived measures with whether each holds anyway
// (waived); its digest is the SHA-256 of those annotations as compact JSON with sorted keys. A
// check that does not apply is in neither passedTests nor failedTests (unless the run requires
// it: then it did not run, and is failed); a check whose only failing measures are waived passed.
//
// # How it is signed
//
// The statement is marshalled once; those bytes are signed (over DSSE's pre-authentication
// encoding) and stored, base64, in the envelope. Verify checks the signature over the payload
// bytes as stored and decodes the statement from those same bytes, never from a re-encoding.
// Keys are PEM: the private key PKCS#8, the public key PKIX, as cosign reads them. The signature's
// keyid is the securesystemslib key ID of the public key; cosign ignores it when verifying with
// --key.
package attest
