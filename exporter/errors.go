package exporter

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Handlers return domain errors and never choose a status: errorResponse, at the HTTP edge, maps
// each one to its status, code and message (errorRules). The store's errors (ErrNotFound,
// ErrSchemaConflict, ErrStoreFull) are exported with the Store interface; those of a request are
// not, since no other package meets them. Most carry a message for the client through errorf; the
// types below carry what the edge needs for the answer.
var (
	errInvalidName   = errors.New("invalid dataset name")       // the name in the path does not match contract.DatasetName
	errInvalidJSON   = errors.New("invalid JSON")               // a schema body that is not one JSON object
	errInvalidSchema = errors.New("invalid schema")             // a schema that fails Schema.Validate
	errInvalidRecord = errors.New("invalid record")             // see recordError
	errInvalidQuery  = errors.New("invalid query")              // a bad export query string or column list
	errBadBody       = errors.New("the body could not be read") // the body broke off
	errMediaType     = errors.New("unsupported media type")     // ingest of neither JSON nor NDJSON
	errTooLarge      = errors.New("too large")                  // a body over its limit, a PDF export over the row cap
	errUnauthorized  = errors.New("no valid bearer token")
	errForbidden     = errors.New("the token lacks a scope")
	errMethod        = errors.New("method not allowed") // see methodError
	errRateLimited   = errors.New("rate limited")       // see rateLimitError
	errSaturated     = errors.New("all export slots are busy")
	errShuttingDown  = errors.New("shutting down") // the server is draining
	errNoEndpoint    = errors.New("no such endpoint")
)

// kindError is a domain error of one of the kinds above with a message written for the client.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// errorf returns an error of kind whose text, which the client is shown, is the formatted message.
func errorf(kind error, format string, args ...any) error {
	return &kindError{kind, fmt.Errorf(format, args...)}
}

// datasetError is a store error about a named dataset: the name goes into the client's message.
type datasetError struct {
	name string
	err  error
}

func (e *datasetError) Error() string { return "dataset " + e.name + ": " + e.err.Error() }
func (e *datasetError) Unwrap() error { return e.err }

// recordError is a rejected record. Line is its line in a batch, or 0 for a single record.
type recordError struct {
	line int
	err  error
}

func (e *recordError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("line %d: %v; nothing was written", e.line, e.err)
	}
	return e.err.Error()
}

func (e *recordError) Unwrap() []error { return []error{errInvalidRecord, e.err} }

// rateLimitError is an empty token bucket; wait is the time until the next token.
type rateLimitError struct{ wait time.Duration }

func (e *rateLimitError) Error() string { return fmt.Sprintf("rate limited for %v", e.wait) }
func (e *rateLimitError) Unwrap() error { return errRateLimited }

// methodError is a request with a method the path does not serve; allow is the one it does.
type methodError struct{ method, allow string }

func (e *methodError) Error() string {
	return e.method + " is not allowed here; use " + e.allow
}
func (e *methodError) Unwrap() error { return errMethod }

// errorRule maps one kind of domain error to its response.
type errorRule struct {
	kind   error // matched with errors.Is
	status int
	code   string
	// message is the client's message; nil means the error's own text, which is written for the
	// client. Errors from the store get fixed text: theirs may quote file paths and errno text.
	message func(err error) string
	// retry is the Retry-After of the answer; a rateLimitError carries its own.
	retry time.Duration
	// header adds the fields the status requires (RFC 9110: Allow on 405, WWW-Authenticate on 401).
	header func(h http.Header, err error)
}

func fixed(msg string) func(error) string { return func(error) string { return msg } }

// datasetMessage is the message about the dataset err names: named(name), or anonymous when err
// names none.
func datasetMessage(named func(name string) string, anonymous string) func(error) string {
	return func(err error) string {
		if de := (*datasetError)(nil); errors.As(err, &de) {
			return named(de.name)
		}
		return anonymous
	}
}

// errorRules are tried in order; an error matching none is a 500. The store's errors come first:
// they may reach the edge wrapped in a request's own (a full store during PUT, say).
var errorRules = []errorRule{
	{kind: ErrStoreFull, status: http.StatusInsufficientStorage, code: "store_full",
		message: fixed("the store is full: nothing of this request was written; retry once the data volume has room")},
	{kind: ErrStoreUnavailable, status: http.StatusServiceUnavailable, code: "store_unavailable",
		message: fixed("the database is unavailable: this request was not acknowledged (a write is stored wholly or not at all, so retrying it is safe); retry after the Retry-After seconds"),
		retry:   2 * time.Second},
	{kind: ErrNotFound, status: http.StatusNotFound, code: "dataset_not_found",
		message: datasetMessage(func(name string) string { return "no dataset " + name + ": create it with PUT first" },
			"no such dataset: create it with PUT first")},
	{kind: ErrSchemaConflict, status: http.StatusConflict, code: "schema_conflict",
		message: datasetMessage(func(name string) string { return "dataset " + name + " exists with a different schema" },
			"the dataset exists with a different schema")},
	// A store closed under a request: the server is on its way down.
	{kind: bolt.ErrDatabaseNotOpen, status: http.StatusServiceUnavailable, code: "shutting_down",
		message: fixed("the server is shutting down"), retry: time.Second},
	{kind: errShuttingDown, status: http.StatusServiceUnavailable, code: "shutting_down",
		message: fixed("the server is shutting down"), retry: time.Second},
	{kind: errMethod, status: http.StatusMethodNotAllowed, code: "method_not_allowed",
		header: func(h http.Header, err error) {
			if me := (*methodError)(nil); errors.As(err, &me) {
				h.Set("Allow", me.allow)
			}
		}},
	{kind: errUnauthorized, status: http.StatusUnauthorized, code: "unauthorized",
		message: fixed("a valid bearer token is required"),
		header:  func(h http.Header, _ error) { h.Set("WWW-Authenticate", `Bearer realm="exporter"`) }},
	{kind: errForbidden, status: http.StatusForbidden, code: "forbidden"},
	{kind: errRateLimited, status: http.StatusTooManyRequests, code: "rate_limited",
		message: fixed("too many requests: slow down and retry after the Retry-After seconds")},
	{kind: errSaturated, status: http.StatusServiceUnavailable, code: "saturated", retry: time.Second},
	{kind: errTooLarge, status: http.StatusRequestEntityTooLarge, code: "too_large"},
	{kind: errMediaType, status: http.StatusUnsupportedMediaType, code: "unsupported_media_type"},
	{kind: errInvalidName, status: http.StatusBadRequest, code: "invalid_name"},
	{kind: errInvalidJSON, status: http.StatusBadRequest, code: "invalid_json"},
	{kind: errInvalidSchema, status: http.StatusBadRequest, code: "invalid_schema"},
	{kind: errInvalidRecord, status: http.StatusBadRequest, code: "invalid_record"},
	{kind: errInvalidQuery, status: http.StatusBadRequest, code: "invalid_query"},
	{kind: errBadBody, status: http.StatusBadRequest, code: "bad_body"},
	{kind: errNoEndpoint, status: http.StatusNotFound, code: "not_found"},
}

// apiError is the answer to an error: its status, the JSON body {"error": {...}}, and the header
// fields that go with it.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`

	retry  time.Duration // Retry-After, when not 0
	header func(http.Header)
}

// errorResponse maps err to its answer. It is the one place where errors meet HTTP statuses.
func errorResponse(err error) *apiError {
	for _, r := range errorRules {
		if !errors.Is(err, r.kind) {
			continue
		}
		e := &apiError{Status: r.status, Code: r.code, Message: err.Error(), retry: r.retry}
		if r.message != nil {
			e.Message = r.message(err)
		}
		if re := (*recordError)(nil); errors.As(err, &re) {
			e.Line = re.line
		}
		if rl := (*rateLimitError)(nil); errors.As(err, &rl) {
			e.retry = rl.wait
		}
		if r.header != nil {
			e.header = func(h http.Header) { r.header(h, err) }
		}
		return e
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
}

// writeError answers a request with err, logging what the client's answer leaves out: a full store
// and unexpected failures, never the message (which may quote record contents).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := errorResponse(err)
	switch {
	case errors.Is(err, ErrStoreFull):
		// Not the request's fault nor the exporter's: the operator has to make room.
		s.log.Error("store full", "path", r.URL.Path, "err", err.Error())
	case e.Status == http.StatusInternalServerError:
		s.log.Error("request failed", "path", r.URL.Path, "err", err.Error())
	}
	info(r).err = e.Code
	if e.Line > 0 {
		info(r).err += fmt.Sprintf(" (line %d)", e.Line)
	}
	writeAPIError(w, e)
}

// writeAPIError writes e with its header fields.
func writeAPIError(w http.ResponseWriter, e *apiError) {
	if e.retry > 0 {
		retryAfter(w.Header(), e.retry)
	}
	if e.header != nil {
		e.header(w.Header())
	}
	writeJSON(w, e.Status, map[string]*apiError{"error": e})
}
