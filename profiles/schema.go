// Package profiles publishes the JSON Schema of an export API's profile (profile.schema.json,
// draft 2020-12) and holds the profiles this repository ships: v1.yaml describes its own exporter.
// harness/profile loads and validates a profile against the schema embedded here.
package profiles

import _ "embed"

// Schema is profile.schema.json, the JSON Schema every profile is validated against.
//
//go:embed profile.schema.json
var Schema []byte

// V1 is v1.yaml, the profile of this repository's own exporter: the run's API when no other
// profile is given.
//
//go:embed v1.yaml
var V1 []byte
