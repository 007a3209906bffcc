package profile

import "slices"

// Capabilities are what a profile's API lets the acceptance run judge beyond what every API
// offers: plain data, read from the profile alone.
type Capabilities struct {
	Columns bool // an export picks and orders columns
	Resume  bool // an export resumes after a given row (the after option)
	Limit   bool // an export bounds its row count
	BOM     bool // a CSV export can start with a BOM
	PDF     bool // the API exports PDF as well as CSV
	// Truncation: a cut export can be told from a complete one (integrity is not none).
	Truncation bool
	// Metrics: series are mapped to roles, so the run can reconcile them with its tally (A6).
	Metrics bool
	// Protection: the answers past the API's limits are declared (A5).
	Protection bool
	// Memory: the run starts the service itself (process or image) and can watch its memory
	// from outside (A4); a url service it cannot.
	Memory bool
	Single bool // records can be ingested one per request
	Remove bool // a dataset can be removed
}

// Capabilities reads what p declares.
func (p *Profile) Capabilities() Capabilities {
	csv := p.Export.CSV.Options
	return Capabilities{
		Columns:    slices.Contains(csv, "columns"),
		Resume:     slices.Contains(csv, "after"),
		Limit:      slices.Contains(csv, "limit"),
		BOM:        slices.Contains(csv, "bom"),
		PDF:        p.Export.PDF != nil,
		Truncation: p.Integrity.Kind != "none",
		Metrics:    p.Metrics != nil && len(p.Metrics.Series) > 0,
		Protection: p.Protection != nil,
		Memory:     p.Service.Kind != "url",
		Single:     p.Ingest.Single != nil,
		Remove:     p.Dataset.Remove != nil,
	}
}

// Declared are the names of the capabilities c holds, in a fixed order, for a reader.
func (c Capabilities) Declared() []string {
	var names []string
	for _, f := range []struct {
		has  bool
		name string
	}{
		{c.Columns, "columns"}, {c.Resume, "resume"}, {c.Limit, "limit"}, {c.BOM, "bom"}, {c.PDF, "pdf"},
		{c.Truncation, "truncation"}, {c.Metrics, "metrics"}, {c.Protection, "protection"},
		{c.Memory, "memory"}, {c.Single, "single"}, {c.Remove, "remove"},
	} {
		if f.has {
			names = append(names, f.name)
		}
	}
	return names
}

// Missing is every capability c does not hold, and none it holds.
func (c Capabilities) Missing() Capabilities {
	return Capabilities{Columns: !c.Columns, Resume: !c.Resume, Limit: !c.Limit, BOM: !c.BOM, PDF: !c.PDF,
		Truncation: !c.Truncation, Metrics: !c.Metrics, Protection: !c.Protection, Memory: !c.Memory,
		Single: !c.Single, Remove: !c.Remove}
}
