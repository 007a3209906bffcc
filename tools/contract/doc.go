// Package contract holds the observability contract test: every metric named by the alert rules
// and the dashboard queries is one the exporter really exposes, and each of the exporter's nine
// metrics is used somewhere. It is a separate module so the root module does not depend on
// Prometheus itself.
package contract
