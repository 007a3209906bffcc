package seed

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// awkwardNotes are free-text notes that break naive CSV writers, PDF text layout or spreadsheets.
// Generate cycles through all of them, so any dataset of a few dozen records contains each one.
var awkwardNotes = []string{
	"",
	"plain note",
	"comma, separated, values",
	`said "buy" twice`,
	`"fully quoted"`,
	"line one\nline two",
	"windows\r\nline end",
	"bare\rcarriage return",
	"trailing newline\n",
	"Zürich ✓ 東京",
	"naïve café — déjà vu",
	"=SUM(A1:A9)",
	"+1",
	"-2",
	"@cmd",
	"'quoted",
	"''double quoted",
	"\tleading tab",
	"\rleading carriage return",
	"=HYPERLINK(\"cell\",\"x\")",
	"   padded   ",
	"semi;colon|pipe",
	"\\backslash\\ and /slash/",
	"mixed, \"quotes\"\r\nand ✓ lines",
}

var (
	symbols    = []string{"ACME", "GLOBX", "INITECH", "UMBRL", "STARK", "WAYNE", "TYRELL", "CYBDN", "OSCP", "HOOLI"}
	currencies = []string{"USD", "EUR", "GBP", "CHF", "JPY"}
	statuses   = []string{"NEW", "FILLED", "PARTIAL", "CANCELLED", "REJECTED"}
	words      = []string{"client", "desk", "hedge", "rebalance", "block", "algo", "manual", "late", "booking",
		"allocation", "Zürich", "東京", "São Paulo", "review", "ok", "✓", "per", "instruction"}
	zones = []*time.Location{
		time.UTC,
		time.FixedZone("", 3600),
		time.FixedZone("", -5*3600),
		time.FixedZone("", 5*3600+1800),
		time.FixedZone("", -(3*3600 + 1800)),
	}
	epoch = time.Date(2026, 1, 2, 8, 0, 0, 0, time.UTC)
)

// Generate returns n trade records (schema Trades) with ids firstID, firstID+1, …, fully determined
// by seed: the same arguments always give the same records. Records include negative quantities
// (corrections), timestamps in several offsets with and without fractional seconds, decimals sent
// as strings and as JSON numbers, and every awkward note text.
func Generate(seed uint64, n int, firstID int64) []Record {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	recs := make([]Record, n)
	for i := range recs {
		id := firstID + int64(i)
		qty := int64(r.IntN(5000) + 1)
		if r.IntN(10) == 0 {
			qty = -qty // a correction
		}
		priceUnits := int64(r.IntN(99_999_999) + 1) // 0.0001 .. 9999.9999
		side := "BUY"
		if r.IntN(2) == 0 {
			side = "SELL"
		}
		var notional any = fixed4(qty * priceUnits)
		if r.IntN(3) == 0 {
			notional = json.Number(notional.(string)) // the contract accepts a JSON number too
		}
		recs[i] = Record{ID: id, Values: []any{
			timestamp(r, int64(i)),
			fmt.Sprintf("ACC-%05d", r.IntN(2000)),
			symbols[r.IntN(len(symbols))],
			side,
			qty,
			fixed4(priceUnits),
			notional,
			currencies[r.IntN(len(currencies))],
			statuses[r.IntN(len(statuses))],
			r.IntN(5) == 0,
			note(r, i),
		}}
	}
	return recs
}

// timestamp returns a moment that advances with i, written in one of several offsets, sometimes
// with milli-, micro- or nanoseconds.
func timestamp(r *rand.Rand, i int64) string {
	t := epoch.Add(time.Duration(i) * 1500 * time.Millisecond)
	switch r.IntN(4) {
	case 1:
		t = t.Add(time.Duration(r.IntN(1000)) * time.Millisecond)
	case 2:
		t = t.Add(time.Duration(r.IntN(1_000_000)) * time.Microsecond)
	case 3:
		t = t.Add(time.Duration(r.IntN(1_000_000_000)))
	}
	return t.In(zones[r.IntN(len(zones))]).Format(time.RFC3339Nano)
}

// note alternates between the awkward texts (in order) and ordinary generated sentences.
func note(r *rand.Rand, i int) string {
	if i%2 == 0 {
		return awkwardNotes[(i/2)%len(awkwardNotes)]
	}
	k := r.IntN(8) + 1
	parts := make([]string, k)
	for j := range parts {
		parts[j] = words[r.IntN(len(words))]
	}
	return strings.Join(parts, " ")
}

// fixed4 formats units of 0.0001 as a decimal with exactly four fractional digits.
func fixed4(units int64) string {
	sign := ""
	if units < 0 {
		sign, units = "-", -units
	}
	return fmt.Sprintf("%s%d.%04d", sign, units/10000, units%10000)
}
