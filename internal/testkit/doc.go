// Package testkit is the one test-helper package of the repository: what more than one package's
// tests need, each made once and cleaned up where it is made (t.Cleanup), in the manner of bbolt's
// internal/btesting.
//
// It builds binaries once per test binary (Binary), gives a small run's sizes and the fake's
// limits and environment (SmallRun, FakeLimits, FakeEnv, V1Env), a buffer safe to write from one
// goroutine while another reads (Buffer), stops what a test started when it ends (StopAtCleanup),
// and says what the machine must have (Require). Its subpackage golden compares output with golden
// files; it is apart only because it must stay a leaf that the packages testkit imports can use.
//
// One convention for a test that needs something the machine lacks: Require fails the test, naming
// what is missing and how to get it, unless the environment variable named by SkipMissing is set,
// and then it skips. `make test` never sets it, so nothing is skipped there.
package testkit
