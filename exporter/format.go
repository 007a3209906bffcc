package exporter

import (
	"io"
	"time"
)

// Format is an export format: how the rows of an export are encoded and how the result goes out.
// The HTTP layer knows formats only through this table, so a new format is a file with its
// encoder plus one row of formatTable.
type Format struct {
	// Name is the format's value of the format= query parameter, and its metrics label.
	Name string
	// ContentType is the response's Content-Type.
	ContentType string
	// Ext is the file name extension of the attachment, without the dot.
	Ext string
	// Capacity is how an export in this format is produced and sent, and which limit it counts
	// against.
	Capacity Capacity
	// BOM is whether the format takes the bom= query parameter (a UTF-8 byte order mark first).
	BOM bool
	// New returns an encoder of the rows of t onto w; it may write the table's header at once.
	New func(w io.Writer, t Table) Encoder
}

// Capacity is the class of an export's cost, which decides how it is sent and which of the
// configured limits it counts against.
type Capacity int

const (
	// Streamed formats encode each row as it is read, in constant memory, and send the body in
	// chunks as it grows, ended by the integrity trailers; at most Config.MaxCSVExports at once.
	Streamed Capacity = iota
	// Document formats are rendered whole in memory before the first byte goes out, so they
	// hold at most Config.PDFMaxRows rows and are sent with Content-Length and the integrity
	// fields as headers; at most Config.MaxPDFExports at once.
	Document
)

// slots is the number of exports of this capacity class that may run at once under cfg.
func (c Capacity) slots(cfg Config) int {
	if c == Document {
		return cfg.MaxPDFExports
	}
	return cfg.MaxCSVExports
}

// Encoder writes the rows of one export in its format, in the manner of a stream encoder: the
// constructor (Format.New) writes what comes first, Encode one row, Close the rest.
type Encoder interface {
	// Encode writes one row: the id's decimal text, then the cells of the selected columns (see
	// Table). It does not keep the row: the cells are only valid during the call.
	Encode(row [][]byte) error
	// Close ends the document, flushes what is buffered and returns the first error met. It does
	// not close the io.Writer.
	Close() error
}

// Table is what an encoder is told of the rows it will be given.
type Table struct {
	// Dataset is the name of the exported dataset.
	Dataset string
	// Header holds the column names of every row: "id", then the selected columns'.
	Header []string
	// Types holds the type of each column after the id.
	Types []Type
	// Rows is the number of rows to come, known beforehand for Document formats only (else -1).
	Rows int64
	// Created is when the export started.
	Created time.Time
	// BOM asks for a UTF-8 byte order mark first, in the formats that take one (Format.BOM).
	BOM bool
}

// formatTable is the one list of export formats.
var formatTable = []Format{
	csvFormat,
	pdfFormat,
}

// lookupFormat returns the format named name.
func lookupFormat(name string) (Format, bool) {
	for _, f := range formatTable {
		if f.Name == name {
			return f, true
		}
	}
	return Format{}, false
}

// formatNames lists the formats' names, in table order.
func formatNames() []string {
	names := make([]string, len(formatTable))
	for i, f := range formatTable {
		names[i] = f.Name
	}
	return names
}
