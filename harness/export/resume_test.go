package export

import "testing"

func TestCompletePrefix(t *testing.T) {
	body := "id,a,b\r\n1,x,\"q\r\nuoted\"\r\n2,y,z\r\n"
	whole := len(body)
	tests := []struct {
		cut          int
		rows         int
		last         int64
		headerLen    int
		prefixLength int
	}{
		{whole, 2, 2, 8, whole},
		{whole - 1, 1, 1, 8, 24}, // the last CRLF lacks its LF
		{whole - 3, 1, 1, 8, 24}, // inside the last record
		{24, 1, 1, 8, 24},        // exactly after record 1
		{15, 0, 0, 8, 8},         // inside the quoted line break of record 1
		{12, 0, 0, 8, 8},         // between two fields of record 1
		{8, 0, 0, 8, 8},          // just the header
		{5, 0, 0, 0, 0},          // inside the header
	}
	for _, tt := range tests {
		p := CompletePrefix([]byte(body[:tt.cut]))
		if p.Rows != tt.rows || p.LastID != tt.last || p.HeaderLen != tt.headerLen || p.Len != tt.prefixLength {
			t.Errorf("cut at %d: %+v, want rows %d last %d header %d len %d", tt.cut, p, tt.rows, tt.last, tt.headerLen, tt.prefixLength)
		}
	}
	if p := CompletePrefix([]byte("\xEF\xBB\xBFid\r\n7\r\n")); p.HeaderLen != 7 || p.LastID != 7 || p.Len != 10 {
		t.Errorf("with a BOM: %+v", p)
	}
}
