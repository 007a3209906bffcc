// Package contract holds the facts that the exporter, its fake and the harness must agree on, each
// once: the exporter's protection limits and their defaults (the container contract's EXPORTER_*
// variables set the same flags), the replicas a deployment may have, the sizes of a run, and the
// v1 API's syntax for names and decimal values.
//
// The exporter's DefaultConfig and the fake's flags take their defaults from Defaults. The limits
// the harness starts its own targets with are not here: the v1 profile (profiles/v1.yaml)
// declares them in its protection, and its service env passes them to the exporter.
package contract

import (
	"fmt"
	"strconv"
	"time"
)

// Limits are an exporter's protection limits, as its flags set them.
type Limits struct {
	Rate          float64 // per-client requests per second (token bucket); 0 turns rate limiting off
	Burst         int     // per-client bucket size
	MaxCSVExports int     // concurrent CSV exports; more get 503
	MaxPDFExports int     // concurrent PDF exports; more get 503
	PDFMaxRows    int     // larger PDF exports get 413
	WriteTimeout  time.Duration
	ShutdownGrace time.Duration
}

// Defaults are the exporter's own defaults: what a target started without limit flags has.
func Defaults() Limits {
	return Limits{Rate: 50, Burst: 100, MaxCSVExports: 16, MaxPDFExports: 2, PDFMaxRows: 20000,
		WriteTimeout: 30 * time.Second, ShutdownGrace: 30 * time.Second}
}

// Args are the exporter flags that start an exporter with l.
func (l Limits) Args() []string {
	return []string{
		"--rate=" + strconv.FormatFloat(l.Rate, 'g', -1, 64),
		"--burst=" + strconv.Itoa(l.Burst),
		"--max-csv-exports=" + strconv.Itoa(l.MaxCSVExports),
		"--max-pdf-exports=" + strconv.Itoa(l.MaxPDFExports),
		"--pdf-max-rows=" + strconv.Itoa(l.PDFMaxRows),
		"--write-timeout=" + l.WriteTimeout.String(),
		"--shutdown-grace=" + l.ShutdownGrace.String(),
	}
}

// DefaultReplicas is how many exporter replicas a deployment has unless told otherwise.
const DefaultReplicas = 2

// MaxReplicas is how many exporter replicas a deployment may have: the servers deploy/haproxy.cfg
// declares (EXPORTER_REPLICA_1 … _8).
const MaxReplicas = 8

// ValidateReplicas says whether n replicas can be deployed.
func ValidateReplicas(n int) error {
	if n < 1 || n > MaxReplicas {
		return fmt.Errorf("replicas must be within [1, %d], not %d", MaxReplicas, n)
	}
	return nil
}

// Sizes are the sizes of an acceptance run.
type Sizes struct {
	SmokeRows       int     // rows of the smoke set
	SmokeSingle     int     // of them, seeded one request each (concurrently)
	LoadRows        int     // rows of the load set
	LargeRows       int     // rows of the large set (memory windows)
	BulkRows        int     // rows of the bulk set, 16 KiB of text each (exports that end badly)
	HeldRows        int     // rows of the bulk set in one export held by the saturation probe
	LoadRequests    int     // exports in the load test
	LoadConcurrency int     // exports in flight during the load test, below the v1 profile's CSV capacity
	PDFShare        float64 // fraction of the load's exports that are PDF
	BurstRequests   int     // requests of the burst over the rate limit, per replica, at most
}

// DefaultSizes are the suite's: the defaults of bin/verify's flags and of a pipeline run.
func DefaultSizes() Sizes {
	return Sizes{SmokeRows: 1000, SmokeSingle: 200, LoadRows: 10000, LargeRows: 300000, BulkRows: 6000,
		HeldRows: 3000, LoadRequests: 120, LoadConcurrency: 6, PDFShare: 0.25, BurstRequests: 1000}
}
