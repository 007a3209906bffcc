// Package exporter is the reference streaming export service of Export@Scale.
//
// It ingests records into datasets with a declared schema, keeps them in an embedded bbolt store
// (keys are big-endian ids, so a cursor scan is export order), and streams them out as RFC 4180 CSV
// with constant memory, or as a paginated PDF up to a row cap. Every request passes through
// bearer-token auth, a per-client token bucket and, for exports, a per-format concurrency limit that
// sheds load with 503 instead of queueing. The nine exporter_* metrics describe all of it.
//
// Values are validated and converted once, at ingest, into the exact cell text they export as, so an
// export is a cursor scan plus quoting: see [Type] for the text of each type, and package
// exporter/internal/csvenc for the quoting and the formula guard. Both formats reach the client
// through one bodyStream, which sends the body in chunks under write deadlines and hashes it for
// the Content-Digest.
package exporter
