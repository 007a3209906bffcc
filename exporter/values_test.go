package exporter

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestValueRoundTrip ingests one value of a type and reads its cell back from a CSV export.
func TestValueRoundTrip(t *testing.T) {
	ts := newTestServer(t)
	for _, ty := range []Type{TypeString, TypeInt, TypeDecimal, TypeTimestamp, TypeBool} {
		ts.createDataset(t, "v-"+string(ty), `{"columns":[{"name":"v","type":"`+string(ty)+`"}]}`)
	}
	tests := []struct {
		ty   Type
		json string // the value as sent
		want string // the cell as exported (before the CSV guard, which only applies to strings)
	}{
		{TypeDecimal, `"0.10"`, "0.10"},
		{TypeDecimal, `"-123.4500"`, "-123.4500"},
		{TypeDecimal, `1.50`, "1.50"},
		{TypeDecimal, `-0.001`, "-0.001"},
		{TypeDecimal, `0`, "0"},
		{TypeDecimal, `"007.50"`, "7.50"},
		{TypeDecimal, `"-0.00"`, "0.00"},
		{TypeDecimal, `"-000"`, "0"},
		{TypeDecimal, `"-00.10"`, "-0.10"},
		{TypeDecimal, `12345678901234567890.123456789012345678`, "12345678901234567890.123456789012345678"},
		{TypeDecimal, `"-99999999999999999999999999999999.000000000000000000000000000001"`, "-99999999999999999999999999999999.000000000000000000000000000001"},
		{TypeTimestamp, `"2026-01-02T03:04:05+01:00"`, "2026-01-02T02:04:05Z"},
		{TypeTimestamp, `"2026-01-02T03:04:05Z"`, "2026-01-02T03:04:05Z"},
		{TypeTimestamp, `"2026-01-02T00:30:00+01:00"`, "2026-01-01T23:30:00Z"},
		{TypeTimestamp, `"2026-01-02T03:04:05.123456789-07:30"`, "2026-01-02T10:34:05.123456789Z"},
		{TypeTimestamp, `"2026-06-30T23:59:59.5+00:00"`, "2026-06-30T23:59:59.5Z"},
		{TypeTimestamp, `"2025-12-31T23:00:00.000001-01:00"`, "2026-01-01T00:00:00.000001Z"},
		{TypeTimestamp, `"2024-02-29T12:00:00+14:00"`, "2024-02-28T22:00:00Z"},
		{TypeTimestamp, `"0001-01-01T00:00:00Z"`, "0001-01-01T00:00:00Z"},
		{TypeTimestamp, `"9999-12-31T23:59:59.999999999Z"`, "9999-12-31T23:59:59.999999999Z"},
		{TypeBool, `true`, "true"},
		{TypeBool, `false`, "false"},
		{TypeInt, `9223372036854775807`, "9223372036854775807"},
		{TypeInt, `-9223372036854775808`, "-9223372036854775808"},
		{TypeInt, `0`, "0"},
		{TypeInt, `-0`, "0"},
		{TypeInt, `-42`, "-42"},
		{TypeString, `""`, ""},
		{TypeString, `"naïve café – Ωμέγα – 中文 – 😀"`, "naïve café – Ωμέγα – 中文 – 😀"},
		{TypeString, `"\u00e9\ud83d\ude00\n\t\"\\\/"`, "é😀\n\t\"\\/"},
		{TypeString, `"\u0001"`, "\x01"},
	}
	for i, tt := range tests {
		id := i + 1
		t.Run(fmt.Sprintf("%s %s", tt.ty, tt.json), func(t *testing.T) {
			name := "v-" + string(tt.ty)
			resp, body := ts.do(t, http.MethodPost, "/v1/datasets/"+name+"/records",
				fmt.Appendf(nil, `{"v":%s,"id":%d}`, tt.json, id))
			assertStatus(t, resp, body, http.StatusOK)
			_, body = ts.exportCSV(t, name, fmt.Sprintf("&after=%d&limit=1", id-1))
			rows := parseCSV(t, body)
			if len(rows) != 2 || rows[1][0] != fmt.Sprint(id) {
				t.Fatalf("export %q, want the header and row %d", rows, id)
			}
			got := rows[1][1]
			if tt.ty == TypeString {
				got = unguard(got)
			}
			if got != tt.want {
				t.Errorf("cell %q, want %q", got, tt.want)
			}
			if tt.ty == TypeTimestamp {
				if _, err := time.Parse(time.RFC3339Nano, got); err != nil {
					t.Errorf("exported timestamp is not RFC 3339: %v", err)
				}
			}
		})
	}

	// The same values in one batch per type, each line three times under new ids: a store may
	// write a batch another way than a single record (PostgreSQL: COPY instead of an INSERT).
	byType := map[Type][]int{}
	for i, tt := range tests {
		byType[tt.ty] = append(byType[tt.ty], i)
	}
	for ty, cases := range byType {
		name := "b-" + string(ty)
		ts.createDataset(t, name, `{"columns":[{"name":"v","type":"`+string(ty)+`"}]}`)
		var batch []byte
		want := map[string]string{}
		for k := range 3 {
			for _, i := range cases {
				id := fmt.Sprint(k*1000 + i + 1)
				batch = fmt.Appendf(batch, `{"id":%s,"v":%s}`+"\n", id, tests[i].json)
				want[id] = tests[i].want
			}
		}
		for len(want) < 70 { // past the size from which a store may batch differently
			id := fmt.Sprint(10000 + len(want))
			batch = fmt.Appendf(batch, `{"id":%s,"v":%s}`+"\n", id, tests[cases[0]].json)
			want[id] = tests[cases[0]].want
		}
		ts.ingest(t, name, batch)
		ts.ingest(t, name, batch) // again, over the stored records: an upsert of every one
		_, body := ts.exportCSV(t, name, "")
		rows := parseCSV(t, body)
		if len(rows)-1 != len(want) {
			t.Errorf("batch of %s: %d rows, want %d", ty, len(rows)-1, len(want))
		}
		for _, r := range rows[1:] {
			got := r[1]
			if ty == TypeString {
				got = unguard(got)
			}
			if got != want[r[0]] {
				t.Errorf("batch of %s, id %s: cell %q, want %q", ty, r[0], got, want[r[0]])
			}
		}
	}
}
