// Package profile reads a profile: a YAML file describing one export API (how to reach it,
// its type names, the requests that declare a dataset, ingest records and export them, how a
// complete export proves itself, its metrics and protection, and how its service runs), validated
// against the JSON Schema published as profiles/profile.schema.json.
//
// Load reports every problem of a file at once, each with its line and the path of the field,
// and Capabilities says what the described API lets the acceptance run judge. The run does not
// use profiles yet.
package profile

import "go.yaml.in/yaml/v3"

// Profile is one export API, as a profile file describes it.
type Profile struct {
	Name       string      `yaml:"name"`
	Connection Connection  `yaml:"connection"`
	Types      Types       `yaml:"types"`
	Dataset    Dataset     `yaml:"dataset"`
	Ingest     Ingest      `yaml:"ingest"`
	Export     Export      `yaml:"export"`
	Integrity  Integrity   `yaml:"integrity"`
	Metrics    *Metrics    `yaml:"metrics"`
	Protection *Protection `yaml:"protection"`
	Service    Service     `yaml:"service"`
	Waivers    []Waiver    `yaml:"waivers"`
}

// Waiver names a measure the API is known to fail, and why that is accepted: the run judges it and
// shows it as waived, never as passed.
type Waiver struct {
	Measure string `yaml:"measure"` // a1.truncation_detectable, a5.rate_limited_responses or a5.saturated_responses
	Reason  string `yaml:"reason"`
}

// Connection is how the harness reaches the API.
type Connection struct {
	BaseURL string `yaml:"base_url"` // for a service of kind url; "" when the run gives it
	Auth    Auth   `yaml:"auth"`
}

// Auth is how requests authenticate. Secrets are named by their environment variables only.
type Auth struct {
	Kind        string `yaml:"kind"` // none, bearer, basic, header or query
	Name        string `yaml:"name"` // the header (header) or query parameter (query)
	TokenEnv    string `yaml:"token_env"`
	UserEnv     string `yaml:"user_env"`
	PasswordEnv string `yaml:"password_env"`
}

// Types are the API's types for the five types of the harness's typed schema.
type Types struct {
	String    Type `yaml:"string"`
	Int       Type `yaml:"int"`
	Decimal   Type `yaml:"decimal"`
	Timestamp Type `yaml:"timestamp"`
	Bool      Type `yaml:"bool"`
}

// Type is one type of the API: its name, how a value of it is sent, and what it holds. In a
// profile it is either the name alone or a mapping.
type Type struct {
	Name string `yaml:"name"`
	// Ingest is how a value travels in an ingest request. decimal: as_seeded (a JSON string or
	// number, as generated), string or number; bool: bool, number (1/0) or string ("true");
	// timestamp: a Go time layout in Zone, or as_seeded (RFC 3339 with the generated offset).
	// "" is as_seeded (bool).
	Ingest    string `yaml:"ingest"`
	Zone      string `yaml:"zone"`      // timestamp: the zone of the ingest layout ("" UTC)
	Precision string `yaml:"precision"` // timestamp: the API keeps instants to this precision ("" ns)
	Min       string `yaml:"min"`       // timestamp: the earliest instant it holds, RFC 3339 ("" none)
	Max       string `yaml:"max"`       // timestamp: the latest instant it holds, RFC 3339 ("" none)
}

// UnmarshalYAML takes a type as its name alone or as a mapping.
func (t *Type) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&t.Name)
	}
	type plain Type
	return n.Decode((*plain)(t))
}

// Request is a request template. Strings of its path, query, headers and body may hold
// placeholders ({dataset}, …), which the run fills in.
type Request struct {
	Method  string            `yaml:"method"`
	Path    string            `yaml:"path"`
	Query   map[string]string `yaml:"query"`
	Headers map[string]string `yaml:"headers"`
	Body    any               `yaml:"body"`
}

// Dataset holds the requests that declare a dataset and, when the API has one, remove it.
type Dataset struct {
	Create Request  `yaml:"create"`
	Column any      `yaml:"column"` // one element of the create body's {columns}: {name}, {type}
	Remove *Request `yaml:"remove"`
	// Exists is the success status with which create says the dataset was there already (0: every
	// success creates).
	Exists int `yaml:"exists"`
}

// Batch is the request that ingests a batch of records, encoded as Format.
type Batch struct {
	Request `yaml:",inline"`
	Format  string `yaml:"format"` // ndjson, json_array or csv
	// Accepted is a JSON pointer to the count of records an answer confirms ("": a 2xx answer
	// confirms them all).
	Accepted string `yaml:"accepted"`
}

// Ingest is how records get in: a batch request (and optionally a single-record one), or a
// command that reads NDJSON on its standard input.
type Ingest struct {
	Batch   *Batch   `yaml:"batch"`
	Single  *Request `yaml:"single"`
	Command []string `yaml:"command"`
}

// Export holds the export of each format the API offers: CSV always, PDF when it has one.
type Export struct {
	CSV CSVExport  `yaml:"csv"`
	PDF *PDFExport `yaml:"pdf"`
}

// CSVExport is the CSV export request, the options it takes and the CSV it writes.
type CSVExport struct {
	Request Request           `yaml:"request"`
	Options []string          `yaml:"options"` // of columns, after, limit, bom
	Unset   map[string]string `yaml:"unset"`   // an option's text when the run does not set it
	Dialect Dialect           `yaml:"dialect"`
}

// PDFExport is the PDF export request and the options it takes.
type PDFExport struct {
	Request Request           `yaml:"request"`
	Options []string          `yaml:"options"` // of columns, after, limit
	Unset   map[string]string `yaml:"unset"`
	// MaxRows is the most rows one PDF export may have (0: not declared); a larger one is refused.
	MaxRows int `yaml:"max_rows"`
}

// Dialect is how a CSV export writes cells, for comparing them with the seeded values.
type Dialect struct {
	Header            bool       `yaml:"header"`
	Delimiter         string     `yaml:"delimiter"`
	LineEnding        string     `yaml:"line_ending"` // crlf or lf
	Quoting           string     `yaml:"quoting"`     // minimal, all or strings (strings quoted, numbers bare)
	Null              string     `yaml:"null"`
	Timestamps        Timestamps `yaml:"timestamps"`
	DecimalsAsNumbers bool       `yaml:"decimals_as_numbers"` // compare decimals by value, not text
	Bools             Bools      `yaml:"bools"`
	FormulaGuard      string     `yaml:"formula_guard"` // apostrophe or none
}

// Timestamps are the layouts (Go's time layouts) a timestamp cell may have, and its zone.
type Timestamps struct {
	Layouts []string `yaml:"layouts"`
	Zone    string   `yaml:"zone"`
}

// Bools are the spellings of true and false.
type Bools struct {
	True  string `yaml:"true"`
	False string `yaml:"false"`
}

// Integrity is how a complete export proves it was not cut short.
type Integrity struct {
	// Kind is trailers, content_length, row_count_header, closing_marker, count_request or none.
	Kind    string   `yaml:"kind"`
	Digest  string   `yaml:"digest"`  // trailers: the digest field
	Rows    string   `yaml:"rows"`    // trailers, row_count_header: the row count field
	Marker  string   `yaml:"marker"`  // closing_marker: the last line
	Request *Request `yaml:"request"` // count_request: answers the row count
}

// Metrics is where the API exposes Prometheus metrics and which series play which role.
type Metrics struct {
	Path   string            `yaml:"path"`
	Series map[string]string `yaml:"series"` // role (exports_total, …) → series name
}

// Protection is how the API answers requests past its limits, and the limits themselves where it
// declares them: the probes are sized from them, and a service the harness starts is started with
// them (its command, files and env may name them: Limits).
type Protection struct {
	OverLimit     *Answer        `yaml:"over_limit"`
	OverCapacity  *Answer        `yaml:"over_capacity"`
	StalledReader *StalledReader `yaml:"stalled_reader"`
}

// Answer is the answer to one kind of excess: its status codes and whether Retry-After comes.
type Answer struct {
	Status     []int `yaml:"status"`
	RetryAfter bool  `yaml:"retry_after"`
	// RateLimitFields: an over-limit answer carries RateLimit and RateLimit-Policy fields.
	RateLimitFields bool `yaml:"ratelimit_fields"`
	// Rate and Burst (over_limit): the requests per second and the bucket each client is allowed.
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
	// Concurrent (over_capacity): how many exports of each format (csv, pdf) may be in flight at
	// once; more get the over-capacity answer.
	Concurrent map[string]int `yaml:"concurrent"`
}

// StalledReader is how long a client may stall reading an export before the API cuts it off.
type StalledReader struct {
	CutAfter string `yaml:"cut_after"` // a Go duration, e.g. 4s
}

// Service is how the API runs for a run: a process, an image or a URL already serving. A process's
// command, files and env may name {dir} (its directory), {port} (where it serves HTTP, readiness
// included) and {port2} (a second free port).
type Service struct {
	Kind      string            `yaml:"kind"`    // process, image or url
	Command   []string          `yaml:"command"` // process
	Ref       string            `yaml:"ref"`     // image
	Env       map[string]string `yaml:"env"`     // process and image
	Readiness string            `yaml:"readiness"`
	Files     map[string]string `yaml:"files"`   // process: path relative to {dir} → content
	Install   []string          `yaml:"install"` // process: the Debian packages its command needs
}
