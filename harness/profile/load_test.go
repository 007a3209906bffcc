package profile

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestLoad loads every file of testdata: a good one loads, a bad one gives exactly its problems,
// a line each with the line and the field. A file the table lacks fails the test.
func TestLoad(t *testing.T) {
	tests := map[string]string{ // file → Load's error, whole; "" for a good file
		"good-minimal.yaml":     "",
		"bad-line-ending.yaml":  `testdata/bad-line-ending.yaml:54: export.csv.dialect.line_ending: "cr" is not one of crlf, lf`,
		"bad-missing-type.yaml": "testdata/bad-missing-type.yaml:7: types: missing decimal",
		"bad-placeholder.yaml": "testdata/bad-placeholder.yaml:28: ingest.batch.path: unknown placeholder {dataset_id} " +
			"(want one of {dataset}, {records})\n" +
			"testdata/bad-placeholder.yaml:48: export.csv.request.query.limit: unknown placeholder {max} " +
			"(want one of {dataset}, {columns}, {after}, {limit}, {bom})\n" +
			"testdata/bad-placeholder.yaml:50: export.csv.options.2: option limit, but the request has no {limit}",
		"bad-secret-and-unknown-keys.yaml": "testdata/bad-secret-and-unknown-keys.yaml:4: connection.auth: missing token_env\n" +
			"testdata/bad-secret-and-unknown-keys.yaml:6: connection.auth.token: a literal secret is not allowed: " +
			"name the environment variable that holds it (token_env)\n" +
			"testdata/bad-secret-and-unknown-keys.yaml:56: export.csv.dialect.quote_char: unknown key",
		"bad-ingest-both.yaml": "testdata/bad-ingest-both.yaml:25: ingest: give only one of batch, command",
		"bad-types.yaml": "testdata/bad-types.yaml:52: export.csv.dialect.header: a string, want a boolean\n" +
			"testdata/bad-types.yaml:90: protection.over_limit.status.0: minimum: got 200, want 400\n" +
			`testdata/bad-types.yaml:97: service.kind: "vm" is not one of process, image, url`,
		"bad-yaml.yaml":          "testdata/bad-yaml.yaml:2: invalid YAML: did not find expected ',' or ']'",
		"bad-duplicate-key.yaml": "testdata/bad-duplicate-key.yaml:13: types.int: key given twice",
		"bad-alias-bomb.yaml": "testdata/bad-alias-bomb.yaml:5: d: too deep or too large: more than 50 levels or " +
			"10000 values (aliases included)",
		"empty.yaml":          "testdata/empty.yaml: empty, want a profile (a YAML mapping)",
		"not-a-mapping.yaml":  "testdata/not-a-mapping.yaml:1: an array, want an object",
		"missing-ingest.yaml": "testdata/missing-ingest.yaml:25: ingest: missing one of batch, command",
		"bad-service-package.yaml": `testdata/bad-service-package.yaml:41: service.install.1: "Bad_Package" does not match ` +
			"^[a-z0-9][a-z0-9+.-]+$",
		"bad-limits.yaml": `testdata/bad-limits.yaml:43: protection.stalled_reader.cut_after: "soon": want a positive duration such as 4s or 1m30s` + "\n" +
			"testdata/bad-limits.yaml:46: service.command.2: {rate} names a limit the profile does not declare (protection.over_limit.rate)\n" +
			"testdata/bad-limits.yaml:49: service.env.SERVER_TIMEOUT: {cut_after} names a limit the profile does not declare (protection.stalled_reader.cut_after)",
		"bad-service-placeholders.yaml": "testdata/bad-service-placeholders.yaml:40: service.command.2: unknown placeholder " +
			"{host} (want one of {dir}, {port}, {port2}, {rate}, {burst}, {csv_exports}, {pdf_exports}, {cut_after}, {pdf_max_rows})\n" +
			"testdata/bad-service-placeholders.yaml:45: service.env.SERVER_DATA: unknown placeholder {dataset} " +
			"(want one of {dir}, {port}, {port2}, {rate}, {burst}, {csv_exports}, {pdf_exports}, {cut_after}, {pdf_max_rows})\n" +
			"testdata/bad-service-placeholders.yaml:47: service.files.server.conf: unknown placeholder {user} " +
			"(want one of {dir}, {port}, {port2}, {rate}, {burst}, {csv_exports}, {pdf_exports}, {cut_after}, {pdf_max_rows})\n" +
			"testdata/bad-service-placeholders.yaml:51: service.files.../outside.conf: want a path relative to {dir} " +
			"that stays inside it",
		"bad-image-files.yaml": "testdata/bad-image-files.yaml:41: service.install: not allowed here\n" +
			"testdata/bad-image-files.yaml:42: service.files: not allowed here",
	}
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		want, ok := tests[filepath.Base(file)]
		if !ok {
			t.Errorf("%s: not in the table", file)
			continue
		}
		delete(tests, filepath.Base(file))
		t.Run(filepath.Base(file), func(t *testing.T) {
			p, err := Load(file)
			if want == "" {
				if err != nil || p == nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load: no error, want\n%s", want)
			}
			if got := err.Error(); got != want {
				t.Errorf("Load:\n got %s\nwant %s", got, want)
			}
			var ps Problems
			if !errors.As(err, &ps) || p != nil {
				t.Errorf("Load: %T and a profile %v, want Problems and none", err, p)
			}
		})
	}
	for name := range tests {
		t.Errorf("testdata/%s is in the table, not in testdata", name)
	}
}

// TestLoadMissingFile: a file that cannot be read is one problem naming it, without the
// *fs.PathError repeating the path.
func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/nonexistent.yaml")
	if want := "testdata/nonexistent.yaml: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("Load: %v, want %s", err, want)
	}
}

// mustLoad loads file, a profile without problems.
func mustLoad(t *testing.T, file string) *Profile {
	t.Helper()
	p, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestV1 loads the profile of this repository's own API and reads what it declares.
func TestV1(t *testing.T) {
	p := mustLoad(t, "../../profiles/v1.yaml")
	if p.Name != "exportatscale-v1" || p.Connection.Auth.Kind != "bearer" || p.Integrity.Rows != "Export-Rows" ||
		p.Ingest.Batch.Format != "ndjson" || len(p.Metrics.Series) != 9 || p.Service.Env["EXPORTER_LISTEN"] != "{listen}" {
		t.Errorf("v1 read as %+v", p)
	}
	l := p.Limits()
	wantL := Limits{Rate: 100, Burst: 50, Concurrent: map[string]int{"csv": 10, "pdf": 2}, CutAfter: 4 * time.Second, PDFMaxRows: 20000}
	if !reflect.DeepEqual(l, wantL) {
		t.Errorf("Limits: got %+v, want %+v", l, wantL)
	}
	l.CutAfter = 3 * time.Second
	env := p.ServiceWith(l).Env
	if env["EXPORTER_RATE"] != "100" || env["EXPORTER_MAX_CSV_EXPORTS"] != "10" || env["EXPORTER_WRITE_TIMEOUT"] != "3s" ||
		env["EXPORTER_LISTEN"] != "{listen}" || p.Service.Env["EXPORTER_RATE"] != "{rate}" {
		t.Errorf("ServiceWith: env %v (the profile's own: %v)", env, p.Service.Env)
	}
}

// TestClickHouse loads the ClickHouse profile: a process service from Debian's package, with its
// own configuration files.
func TestClickHouse(t *testing.T) {
	p := mustLoad(t, "../../profiles/clickhouse.yaml")
	s := p.Service
	if s.Kind != "process" || s.Readiness != "/ping" || !reflect.DeepEqual(s.Install, []string{"clickhouse-server"}) ||
		len(s.Files) != 2 || !strings.Contains(s.Files["config.xml"], "<http_port>{port}</http_port>") ||
		p.Export.CSV.Dialect.Quoting != "strings" || p.Integrity.Kind != "count_request" {
		t.Errorf("clickhouse read as %+v", p)
	}
}

// TestCapabilities reads the capabilities each profile declares: v1's, those ClickHouse 18.16 has,
// and the minimal profile's, which lacks nearly all.
func TestCapabilities(t *testing.T) {
	for file, want := range map[string]Capabilities{
		"../../profiles/v1.yaml": {Columns: true, Resume: true, Limit: true, BOM: true, PDF: true, Truncation: true,
			Metrics: true, Protection: true, Memory: true, Single: true},
		"../../profiles/clickhouse.yaml": {Columns: true, Resume: true, Limit: true, Truncation: true, Protection: true,
			Memory: true, Remove: true},
		"testdata/good-minimal.yaml": {Remove: true},
	} {
		if got := mustLoad(t, file).Capabilities(); got != want {
			t.Errorf("%s: capabilities\n got %+v\nwant %+v", file, got, want)
		}
	}
	c := mustLoad(t, "testdata/good-minimal.yaml").Capabilities()
	if got := c.Declared(); !reflect.DeepEqual(got, []string{"remove"}) {
		t.Errorf("Declared: %q", got)
	}
}

// FuzzLoad: no input makes Load panic, and it returns a profile or its problems, never both
// and never neither.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	files = append(files, "../../profiles/v1.yaml", "../../profiles/clickhouse.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a: &a [*a, *a]\nb: *a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parse("fuzz.yaml", data)
		var ps Problems
		switch {
		case err == nil && p == nil:
			t.Fatal("no profile and no error")
		case err != nil && (p != nil || !errors.As(err, &ps) || len(ps) == 0):
			t.Fatalf("profile %v with error %T %v", p, err, err)
		}
	})
}
