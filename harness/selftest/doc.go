// Package selftest proves the harness: its tests run the suite's own pipeline (harness/pipeline:
// seed, smoke, load with its probes, the six assertions) against the fake exporter started as a
// process through the suite's process target, so memory, logs and restarts are measured from
// outside as the suite measures the real exporter. The fake is healthy once and breaks one
// promise in every other run; each broken run must be RED with the named checks failing. Each run
// goes through the v1 profile, and a representative subset also through the fake's second API
// shape (testdata/fake-second.yaml), which must be RED on the same checks.
package selftest
