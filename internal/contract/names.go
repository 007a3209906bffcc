package contract

import "regexp"

// The v1 API's syntax for names and decimal values, which the exporter enforces and its fake
// mimics: a dataset's name (in the path), a column's name (in the schema), and the text of a
// decimal value.
var (
	DatasetName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	ColumnName  = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	DecimalText = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
)
