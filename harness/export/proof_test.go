package export

import (
	"crypto/sha256"
	"net/http"
	"testing"
)

// TestProofKinds checks each kind of proof against a whole body and against what a cut one
// carries.
func TestProofKinds(t *testing.T) {
	body := []byte("id\r\n1\r\n2\r\n")
	sum := sha256.Sum256(body)
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name    string
		proof   Proof
		header  http.Header
		bytes   int64
		rows    int
		ok      bool
		present bool
	}{
		{"row count right", Proof{Kind: ProofRowCount, Rows: "X-Rows"}, h("X-Rows", "2"), 11, 2, true, true},
		{"row count short", Proof{Kind: ProofRowCount, Rows: "X-Rows"}, h("X-Rows", "3"), 11, 2, false, true},
		{"row count missing", Proof{Kind: ProofRowCount, Rows: "X-Rows"}, h(), 11, 2, false, false},
		{"length right", Proof{Kind: ProofContentLength}, h("Content-Length", "11"), 11, 2, true, true},
		{"length cut", Proof{Kind: ProofContentLength}, h("Content-Length", "11"), 7, 1, false, true},
		{"length missing", Proof{Kind: ProofContentLength}, h(), 11, 2, false, false},
		{"none", Proof{Kind: ProofNone}, h(), 7, 1, true, false},
		{"trailers by default", DefaultProof, h("Export-Rows", "2"), 11, 2, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.proof.check(Fetch{Header: tt.header, Bytes: tt.bytes}, sum[:], tt.rows)
			if in.OK() != tt.ok || in.Present != tt.present {
				t.Errorf("%+v: ok %v present %v, want %v %v", in, in.OK(), in.Present, tt.ok, tt.present)
			}
		})
	}
	var none *Proof
	if in := none.check(Fetch{Header: h()}, sum[:], 2); in.OK() || len(in.Problems) != 2 {
		t.Errorf("a nil proof is the default (trailers): %+v", in)
	}
}
