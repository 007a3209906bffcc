// Package exporter is the reference streaming export service of Export@Scale: its domain (datasets,
// schemas, records, the Store interface) and its HTTP API.
//
// It ingests records into datasets with a declared schema and streams them out. Values are
// validated and converted once, at ingest, into the exact cell text they export as (see [Type]), so
// an export is a scan of a store's snapshot plus encoding.
//
// Stores. The service knows a store only through [Store] and [Snapshot]: a snapshot hands over each
// record as its cells, which may alias the store's buffers until the next record. Each store is a
// package of its own, and package exporter/stores opens the one the configuration names:
//   - exporter/bboltstore, the default: an embedded bbolt file under --data-dir (keys are big-endian
//     ids, so a cursor scan is export order), for a single replica;
//   - exporter/pgstore, with --postgres-dsn: each dataset a table in one PostgreSQL database, read
//     with a binary COPY, so that any number of stateless replicas can serve it.
//
// Formats. Export formats are encoders in one table (formatTable, see [Format]): a name, a content
// type, a file extension, a capacity class and a constructor New(w, [Table]) [Encoder], with
// Encode(row) and Close(). CSV (RFC 4180, package exporter/internal/csvenc for the quoting and the
// formula guard) is [Streamed]: constant memory, sent in chunks as it is encoded, ended by the
// integrity trailers. PDF is a [Document]: rendered whole up to a row cap, then sent with its
// length. A new format is one file with its encoder plus one row of the table.
//
// Every request passes through bearer-token auth, a per-client token bucket and, for exports, a
// concurrency limit per capacity class that sheds load with 503 instead of queueing. Every body
// reaches the client through one bodyStream, which sends it in chunks under write deadlines and
// hashes it for the Content-Digest. The nine exporter_* metrics describe all of it.
//
// The harness's self-tests break the service on purpose from outside it: package exporter/faults
// wraps a store, and only the binary built with -tags exporterfaults wires it in.
package exporter
