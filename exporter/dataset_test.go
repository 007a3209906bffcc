package exporter

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestPutDataset(t *testing.T) {
	ts := newTestServer(t)

	resp, body := ts.do(t, http.MethodPut, "/v1/datasets/trades", []byte(testSchema))
	assertStatus(t, resp, body, http.StatusCreated)
	var got struct {
		Dataset string
		Columns []Column
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("response %q: %v", body, err)
	}
	if got.Dataset != "trades" || len(got.Columns) != len(testHeader)-1 || got.Columns[1] != (Column{"qty", TypeInt}) {
		t.Errorf("response %+v", got)
	}

	// The same schema again is fine, also written differently.
	same := `{ "columns" : [ {"type":"string","name":"symbol"}, {"name":"qty","type":"int"},
		{"name":"price","type":"decimal"}, {"name":"ts","type":"timestamp"}, {"name":"open","type":"bool"},
		{"name":"note","type":"string"} ] }`
	resp, body = ts.do(t, http.MethodPut, "/v1/datasets/trades", []byte(same))
	assertStatus(t, resp, body, http.StatusOK)

	// A different one is a conflict: another type, another order, one column fewer or more.
	for name, schema := range map[string]string{
		"type":  strings.Replace(testSchema, `"qty","type":"int"`, `"qty","type":"decimal"`, 1),
		"order": `{"columns":[{"name":"qty","type":"int"},{"name":"symbol","type":"string"},{"name":"price","type":"decimal"},{"name":"ts","type":"timestamp"},{"name":"open","type":"bool"},{"name":"note","type":"string"}]}`,
		"fewer": `{"columns":[{"name":"symbol","type":"string"}]}`,
		"more":  strings.Replace(testSchema, `]}`, `,{"name":"extra","type":"bool"}]}`, 1),
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := ts.do(t, http.MethodPut, "/v1/datasets/trades", []byte(schema))
			assertAPIError(t, resp, body, http.StatusConflict, "schema_conflict")
		})
	}

	// The stored schema is unchanged by the refused PUTs.
	ts.ingest(t, "trades", ndjson(plainRecords(1, 1)))
	_, csvBody := ts.exportCSV(t, "trades", "")
	if rows := parseCSV(t, csvBody); strings.Join(rows[0], ",") != strings.Join(testHeader, ",") {
		t.Errorf("header %q after refused PUTs", rows[0])
	}
}

func TestPutDatasetInvalid(t *testing.T) {
	ts := newTestServer(t)
	col := func(name, typ string) string { return `{"name":"` + name + `","type":"` + typ + `"}` }
	schema := func(cols ...string) string { return `{"columns":[` + strings.Join(cols, ",") + `]}` }
	many := make([]string, maxColumns+1)
	for i := range many {
		many[i] = col("c"+strings.Repeat("x", i%50)+string(rune('a'+i%26))+string(rune('a'+i/26)), "int")
	}
	tests := []struct {
		name    string
		dataset string
		body    string
		status  int
		code    string
		message string // a substring of the message
	}{
		{"uppercase name", "Trades", schema(col("a", "int")), 400, "invalid_name", "must match"},
		{"leading dash", "-trades", schema(col("a", "int")), 400, "invalid_name", "must match"},
		{"dot", "a.b", schema(col("a", "int")), 400, "invalid_name", "must match"},
		{"space", "a%20b", schema(col("a", "int")), 400, "invalid_name", "must match"},
		{"slash", "a%2Fb", schema(col("a", "int")), 400, "invalid_name", "must match"},
		{"64 characters", strings.Repeat("a", 64), schema(col("a", "int")), 400, "invalid_name", "must match"},
		{"not JSON", "ds", `columns: a`, 400, "invalid_json", "schema"},
		{"empty body", "ds", ``, 400, "invalid_json", "schema"},
		{"truncated", "ds", `{"columns":[`, 400, "invalid_json", "schema"},
		{"array", "ds", `[]`, 400, "invalid_json", "schema"},
		{"two objects", "ds", schema(col("a", "int")) + schema(col("a", "int")), 400, "invalid_json", "after the JSON object"},
		{"invalid UTF-8", "ds", `{"columns":[{"name":"a","type":"string"}],"x":"` + "\xff\xfe" + `"}`, 400, "invalid_json", "UTF-8"},
		{"unknown top-level field", "ds", `{"columns":[{"name":"a","type":"int"}],"primary":"a"}`, 400, "invalid_json", "unknown field"},
		{"unknown column field", "ds", `{"columns":[{"name":"a","type":"int","null":true}]}`, 400, "invalid_json", "unknown field"},
		{"columns not a list", "ds", `{"columns":{"name":"a","type":"int"}}`, 400, "invalid_json", "schema"},
		{"name not a string", "ds", `{"columns":[{"name":1,"type":"int"}]}`, 400, "invalid_json", "schema"},
		{"type not a string", "ds", `{"columns":[{"name":"a","type":["int"]}]}`, 400, "invalid_json", "schema"},
		{"no columns", "ds", `{"columns":[]}`, 400, "invalid_schema", "at least one column"},
		{"null columns", "ds", `{"columns":null}`, 400, "invalid_schema", "at least one column"},
		{"empty object", "ds", `{}`, 400, "invalid_schema", "at least one column"},
		{"unknown type", "ds", schema(col("a", "float")), 400, "invalid_schema", "must be one of"},
		{"type case", "ds", schema(col("a", "INT")), 400, "invalid_schema", "must be one of"},
		{"missing type", "ds", `{"columns":[{"name":"a"}]}`, 400, "invalid_schema", "must be one of"},
		{"duplicate column", "ds", schema(col("a", "int"), col("b", "int"), col("a", "string")), 400, "invalid_schema", `duplicate column "a"`},
		{"id column", "ds", schema(col("id", "int")), 400, "invalid_schema", "id is implicit"},
		{"empty column name", "ds", schema(col("", "int")), 400, "invalid_schema", "must match"},
		{"column name with dash", "ds", schema(col("a-b", "int")), 400, "invalid_schema", "must match"},
		{"column name uppercase", "ds", schema(col("Qty", "int")), 400, "invalid_schema", "must match"},
		{"column name leading digit", "ds", schema(col("1a", "int")), 400, "invalid_schema", "must match"},
		{"column name 64 characters", "ds", schema(col("a"+strings.Repeat("b", 63), "int")), 400, "invalid_schema", "must match"},
		{"too many columns", "ds", schema(many...), 400, "invalid_schema", "at most"},
		{"oversize body", "ds", `{"columns":[` + strings.Repeat(" ", maxSchemaBytes) + `]}`, 413, "too_large", "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.do(t, http.MethodPut, "/v1/datasets/"+tt.dataset, []byte(tt.body))
			e := assertAPIError(t, resp, body, tt.status, tt.code)
			if !strings.Contains(e.Error.Message, tt.message) {
				t.Errorf("message %q does not mention %q", e.Error.Message, tt.message)
			}
		})
	}
	// None of them created anything.
	for _, name := range []string{"ds", "Trades", "trades"} {
		resp, body := ts.do(t, http.MethodGet, "/v1/datasets/"+name+"/export?format=csv", nil)
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s exists after invalid PUTs: %d %s", name, resp.StatusCode, body)
		}
	}
	if got := ts.metric(t, "exporter_requests_rejected_total", "reason", "too_large"); got != 1 {
		t.Errorf("rejected{too_large} = %v, want 1", got)
	}
}

func TestPutDatasetNameLimits(t *testing.T) {
	ts := newTestServer(t)
	for _, name := range []string{"a", "0", strings.Repeat("z", 63), "a_b-c", "9-lives"} {
		ts.createDataset(t, name, `{"columns":[{"name":"_","type":"bool"}]}`)
	}
	// Every valid column name shape.
	ts.createDataset(t, "cols", `{"columns":[{"name":"_","type":"bool"},{"name":"a9","type":"int"},{"name":"`+
		"z"+strings.Repeat("_", 62)+`","type":"string"}]}`)
	resp, body := ts.do(t, http.MethodGet, "/v1/datasets/cols/export?format=csv", nil)
	assertStatus(t, resp, body, http.StatusOK)
	if want := "id,_,a9,z" + strings.Repeat("_", 62) + "\r\n"; !bytes.Equal(body, []byte(want)) {
		t.Errorf("empty export %q, want %q", body, want)
	}
}
