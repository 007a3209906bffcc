package evidence

// AB is the regression check's A/B comparison: the candidate judged against a baseline deployment
// started beside it in the same run, their exports sent in pairs at the same moments. The report
// keeps every pair, so the distributions can be drawn side by side.
type AB struct {
	Candidate string `json:"candidate"` // what was judged (its URL, or image)
	Baseline  string `json:"baseline"`  // what it was judged against (--compare-image or --compare-url)
	// Method names the test that decided, e.g. "wilcoxon-signed-rank".
	Method   string      `json:"method"`
	Measures []ABMeasure `json:"measures"`
}

// ABMeasure is one measure of the A/B comparison: the values of its pairs, candidate[i] and
// baseline[i] measured together, and the effect the test found.
type ABMeasure struct {
	Name      string    `json:"name"`  // e.g. "csv_latency_seconds"
	Label     string    `json:"label"` // e.g. "CSV export latency"
	Unit      string    `json:"unit"`
	Candidate []float64 `json:"candidate"`
	Baseline  []float64 `json:"baseline"`
	// Ratio is the estimated candidate/baseline ratio (Hodges–Lehmann), Low and High its
	// confidence interval at Confidence; P the deciding test's p-value and PUnpaired the unpaired
	// Mann–Whitney U test's, for comparison. All zero when the measure could not be tested.
	Ratio      float64 `json:"ratio"`
	Low        float64 `json:"low"`
	High       float64 `json:"high"`
	Confidence float64 `json:"confidence"`
	P          float64 `json:"p"`
	PUnpaired  float64 `json:"p_unpaired"`
	// Verdict is "regression", "same", "improvement" or "untested"; Note says why when needed.
	Verdict string `json:"verdict"`
	Note    string `json:"note,omitempty"`
}
