// Package selftest proves the harness: its tests run the whole measuring pipeline (seed, smoke,
// load, burst, saturation, scrapes, the six assertions) against fake exporters that break one
// promise each, and require RED with the right assertion failing, and GREEN from a healthy fake.
// Memory is proved on fake exporter processes, measured from outside through the process target
// as the suite measures the real exporter.
package selftest
