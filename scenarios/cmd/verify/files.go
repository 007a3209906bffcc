package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/signerverifier"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/attest"
	"github.com/exportatscale/exportatscale/evidence/compare"
)

// The files a run is given are checked before anything starts, each as the run itself will read
// it, so that a typo is one line naming the file and the key, not a NOT RUN bundle after minutes
// of building, seeding and loading. The messages are the user's: no *fs.PathError repeating the
// path, no encoding/json naming Go types.

// checkThresholds reports what is wrong with the thresholds file at path: what
// evidence.LoadThresholds refuses (an unknown op, a missing op or value, an unknown field), and a
// rule that gives a measure of the built-in thresholds another unit, whose value would then be
// read in the wrong one ("ms" for a measure in seconds).
func checkThresholds(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fileError(path, err)
	}
	rules, err := evidence.LoadThresholds(path)
	if err != nil {
		if inner := errors.Unwrap(err); inner != nil {
			err = inner // what LoadThresholds wrapped it in names the file again
		}
		return fmt.Errorf("%s: %s", path, jsonProblem(err, data))
	}
	builtIn, err := evidence.LoadThresholds("")
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(builtIn)) {
		if got, want := rules[name].Unit, builtIn[name].Unit; got != want {
			return fmt.Errorf("%s: %s: unit %q, but the measure is in %q", path, name, got, want)
		}
	}
	return nil
}

// checkBaseline reports what keeps dir from being the baseline of a run: it must be a directory
// holding an evidence.json of this schema, readable as compare.Load reads it during the run (its
// SHA256SUMS vouching for the files compared). The rules of the comparison are checked too,
// although only a broken build can fail them: they are built in (evidence/baseline.json).
func checkBaseline(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fileError(dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory: want an evidence bundle, such as evidence/out/<run-id>", dir)
	}
	report := filepath.Join(dir, evidence.FileJSON)
	data, err := os.ReadFile(report)
	if err != nil {
		return fileError(report, err)
	}
	var head struct {
		SchemaVersion string `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return fmt.Errorf("%s: %s", report, jsonProblem(err, data))
	}
	if head.SchemaVersion != evidence.SchemaVersion {
		return fmt.Errorf("%s: schema_version %q is not supported: want %q", report, head.SchemaVersion, evidence.SchemaVersion)
	}
	if _, err := compare.Load(dir); err != nil {
		var pathErr *fs.PathError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &pathErr):
			return fileError(pathErr.Path, err)
		case errors.As(err, &typeErr):
			return fmt.Errorf("%s: %s", report, jsonProblem(typeErr, nil))
		}
		return fmt.Errorf("%s: %w", dir, err)
	}
	if _, err := compare.DefaultRules(); err != nil {
		return fmt.Errorf("evidence/baseline.json (built in): %w", err)
	}
	return nil
}

// loadSignKey reads the key at path as `evidence attest --key` does: an ed25519 private key,
// PEM, PKCS#8.
func loadSignKey(path string) (*signerverifier.ED25519SignerVerifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fileError(path, err)
	}
	key, err := attest.LoadPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// fileError says that the file at path cannot be read, and why, without the operation and the
// path that an *fs.PathError repeats.
func fileError(path string, err error) error {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		err = pathErr.Err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: no such file or directory", path)
	}
	return fmt.Errorf("%s: cannot read: %v", path, err)
}

// jsonProblem says what encoding/json found wrong with data in the words of the document: a line
// and column rather than a byte offset, the measure (top-level key) holding a bad field, "a string,
// want a number" rather than Go types. data may be nil when it is not at hand.
func jsonProblem(err error, data []byte) string {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr):
		line, col := position(data, syntaxErr.Offset-1) // the offset is past the offending byte
		if line == 0 {
			return syntaxErr.Error()
		}
		return fmt.Sprintf("line %d, column %d: %s", line, col, syntaxErr.Error())
	case errors.As(err, &typeErr):
		got := article(strings.Fields(typeErr.Value + " value")[0]) // "number -5": "a number"
		want := jsonKind(typeErr.Type)
		where := typeErr.Field
		if key := memberAt(data, typeErr.Offset); key != "" && where != "" {
			where = key + ": " + where
		}
		if where == "" {
			return fmt.Sprintf("%s, want %s", got, want)
		}
		return fmt.Sprintf("%s is %s, want %s", where, got, want)
	case errors.Is(err, io.EOF):
		return "empty, want a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends before its object does"
	}
	msg := err.Error()
	if field, ok := strings.CutPrefix(msg, `json: unknown field `); ok {
		if name, err := strconv.Unquote(field); err == nil {
			if key := memberWith(data, name); key != "" {
				return fmt.Sprintf("%s: unknown field %q", key, name)
			}
		}
	}
	return strings.TrimPrefix(msg, "json: ")
}

// position is the line and column (from 1) of the byte at offset in data; 0, 0 past its end.
func position(data []byte, offset int64) (line, col int) {
	if offset < 0 || offset > int64(len(data)) {
		return 0, 0
	}
	before := data[:offset]
	return bytes.Count(before, []byte("\n")) + 1, len(before) - bytes.LastIndexByte(before, '\n')
}

// member is one top-level member of a JSON object: its key, its value, and the offsets in the
// document between which the value lies.
type member struct {
	key        string
	start, end int64
	value      json.RawMessage
}

// members returns the top-level members of the JSON object in data, as far as it can be read.
func members(data []byte) []member {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var ms []member
	for dec.More() {
		t, err := dec.Token()
		key, ok := t.(string)
		if err != nil || !ok {
			return ms
		}
		m := member{key: key, start: dec.InputOffset()}
		if err := dec.Decode(&m.value); err != nil {
			return ms
		}
		m.end = dec.InputOffset()
		ms = append(ms, m)
	}
	return ms
}

// memberAt is the key of the top-level member whose value holds the byte at offset, or "".
func memberAt(data []byte, offset int64) string {
	for _, m := range members(data) {
		if m.start < offset && offset <= m.end {
			return m.key
		}
	}
	return ""
}

// memberWith is the key of the first top-level member whose value is an object with the field
// name, or "".
func memberWith(data []byte, name string) string {
	for _, m := range members(data) {
		var fields map[string]json.RawMessage
		if json.Unmarshal(m.value, &fields) == nil {
			if _, ok := fields[name]; ok {
				return m.key
			}
		}
	}
	return ""
}

// jsonKind names the JSON values a Go type of encoding/json reads.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another value"
}

// article puts "a" or "an" before a JSON value's kind: "a string", "an array".
func article(kind string) string {
	if strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}
