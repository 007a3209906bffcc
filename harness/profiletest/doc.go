// Package profiletest judges third-party export APIs through their profiles (profiles/*.yaml),
// end to end: the profile's service started as a process on loopback, the acceptance run's
// checks driven by the profile, and the findings compared with what is known of that service.
// It has tests only; make verify-clickhouse runs them.
package profiletest
