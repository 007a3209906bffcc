// Package dashboards builds the exporter's Grafana dashboard in Go with the Grafana Foundation SDK
// and renders it as the JSON committed in exporter.json.
//
// The Go code is the source of truth: edit it, then regenerate the JSON with
//
//	go run ./dashboards/cmd/gendashboards
//
// (or `go test ./dashboards -update`). A test fails when the committed file and the code disagree.
// Every query filters on the `job` variable and uses `$__rate_interval`, so the dashboard works for
// any scrape interval; the observability contract test in tools/contract checks that each metric
// it names is one the exporter exposes.
package dashboards

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// UID is the exporter dashboard's stable identifier, so re-importing it replaces the old copy.
const UID = "exportatscale-exporter"

// datasource is the panels' data source: whatever Prometheus the viewer picks in the variable.
var datasource = common.DataSourceRef{Type: ptr("prometheus"), Uid: ptr("${datasource}")}

// Exporter returns the exporter dashboard: throughput, latency, error ratio, in-flight exports
// and rejections, and bytes/s.
func Exporter() (dashboard.Dashboard, error) {
	d, err := dashboard.NewDashboardBuilder("Export@Scale exporter").
		Uid(UID).
		Description("Streaming CSV/PDF exporter: how much it exports, how fast, how often it fails, and how much load it sheds. Alerts: alerts/exporter.rules.yml; runbook: alerts/RUNBOOK.md.").
		Tags([]string{"exportatscale", "exporter"}).
		Refresh("30s").
		Time("now-1h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").
			Label("Data source").
			Type("prometheus")).
		WithVariable(dashboard.NewQueryVariableBuilder("job").
			Label("Job").
			Description("Prometheus scrape job of the exporter.").
			Datasource(datasource).
			Query(dashboard.StringOrMap{String: ptr("label_values(exporter_exports_total, job)")}).
			Definition("label_values(exporter_exports_total, job)").
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc)).
		WithPanel(throughputPanel()).
		WithPanel(latencyPanel()).
		WithPanel(errorRatioPanel()).
		WithPanel(inFlightPanel()).
		WithPanel(bytesPanel()).
		Build()
	if err != nil {
		return dashboard.Dashboard{}, fmt.Errorf("build exporter dashboard: %w", err)
	}
	return d, nil
}

// WriteJSON renders d as the committed form: two-space indented JSON, HTML characters left
// unescaped so PromQL stays readable, and a trailing newline.
func WriteJSON(w io.Writer, d dashboard.Dashboard) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return fmt.Errorf("encode dashboard: %w", err)
	}
	return nil
}

func throughputPanel() *timeseries.PanelBuilder {
	return panel("Throughput (rows/s)",
		"Rows streamed out per second by export format, and records ingested per second by mode (single/batch, accepted only). The dashed series on the right axis is the number of records stored across all datasets.",
		units.RowsPerSecond, 12).
		WithTarget(query("A", `sum by (format) (rate(exporter_export_rows_total{job="$job"}[$__rate_interval]))`, "exported {{format}}")).
		WithTarget(query("B", `sum by (mode) (rate(exporter_ingest_records_total{job="$job", outcome="ok"}[$__rate_interval]))`, "ingested {{mode}}")).
		WithTarget(query("C", `sum(exporter_store_records{job="$job"})`, "records stored")).
		OverrideByQuery("C", rightAxis(units.Short))
}

func latencyPanel() *timeseries.PanelBuilder {
	const duration = `sum by (format, le) (rate(exporter_export_duration_seconds_bucket{job="$job"}[$__rate_interval]))`
	return panel("Export latency (p50 / p95 / p99)",
		"Whole-export duration quantiles by format, from the exporter_export_duration_seconds histogram; a slow reader makes its export longer. The dashed series is p95 time to first byte (for PDF it includes rendering the whole document). Alert ExporterLatencyP95High fires when p95 stays above 10s (CSV) or 30s (PDF) for 15 minutes.",
		units.Seconds, 12).
		WithTarget(query("A", "histogram_quantile(0.50, "+duration+")", "p50 {{format}}")).
		WithTarget(query("B", "histogram_quantile(0.95, "+duration+")", "p95 {{format}}")).
		WithTarget(query("C", "histogram_quantile(0.99, "+duration+")", "p99 {{format}}")).
		WithTarget(query("D", `histogram_quantile(0.95, sum by (format, le) (rate(exporter_export_first_byte_seconds_bucket{job="$job"}[$__rate_interval])))`, "p95 first byte {{format}}")).
		OverrideByQuery("D", dashed())
}

func errorRatioPanel() *timeseries.PanelBuilder {
	exports := func(outcome string) string {
		return `sum by (format) (rate(exporter_exports_total{job="$job", outcome="` + outcome + `"}[$__rate_interval]))` +
			` / sum by (format) (rate(exporter_exports_total{job="$job"}[$__rate_interval]))`
	}
	return panel("Error ratio",
		"Share of finished exports that ended in a server error (what ExporterErrorRatioHigh pages on above 5%, the red line) or were aborted because the client stopped reading for --write-timeout; and share of ingested records rejected by a server error. Client errors (4xx) are excluded: they are the caller's mistake.",
		units.PercentUnit, 8).
		Min(0).
		Thresholds(dashboard.NewThresholdsConfigBuilder().
			Mode(dashboard.ThresholdsModeAbsolute).
			Steps([]dashboard.Threshold{{Color: "green"}, {Value: ptr(0.05), Color: "red"}})).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)).
		WithTarget(query("A", exports("server_error"), "export server errors {{format}}")).
		WithTarget(query("B", exports("aborted"), "export aborted {{format}}")).
		WithTarget(query("C", `sum by (mode) (rate(exporter_ingest_records_total{job="$job", outcome="server_error"}[$__rate_interval])) / sum by (mode) (rate(exporter_ingest_records_total{job="$job"}[$__rate_interval]))`, "ingest server errors {{mode}}"))
}

func inFlightPanel() *timeseries.PanelBuilder {
	return panel("In-flight exports and rejections",
		"Left axis: exports streaming right now, by format; each format is capped by --max-csv-exports / --max-pdf-exports. Right axis (dashed): requests rejected per second by reason: saturated (503, capacity full), rate_limited (429), too_large (413), unauthorized (401/403).",
		units.Short, 8).
		Min(0).
		WithTarget(query("A", `sum by (format) (exporter_exports_in_flight{job="$job"})`, "in flight {{format}}")).
		WithTarget(query("B", `sum by (reason) (rate(exporter_requests_rejected_total{job="$job"}[$__rate_interval]))`, "rejected {{reason}}")).
		OverrideByQuery("B", rightAxis(units.RequestsPerSecond))
}

func bytesPanel() *timeseries.PanelBuilder {
	return panel("Bytes/s",
		"Bytes of export bodies written to clients per second, by format.",
		units.BytesPerSecondSI, 8).
		Min(0).
		WithTarget(query("A", `sum by (format) (rate(exporter_export_bytes_total{job="$job"}[$__rate_interval]))`, "{{format}}"))
}

// panel returns a time series panel with the house defaults: the datasource variable, a list
// legend with mean and max, and a shared tooltip.
func panel(title, description, unit string, width uint32) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource).
		Unit(unit).
		Height(8).
		Span(width).
		FillOpacity(10).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true).
			Calcs([]string{"mean", "max"})).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeMulti).
			Sort(common.SortOrderDescending))
}

func query(refID, expr, legend string) cog.Builder[variants.Dataquery] {
	return prometheus.NewDataqueryBuilder().
		RefId(refID).
		Expr(expr).
		LegendFormat(legend).
		Range()
}

// rightAxis moves a query's series to the right axis with its own unit, drawn dashed so the
// two scales are not confused.
func rightAxis(unit string) []dashboard.DynamicConfigValue {
	return append([]dashboard.DynamicConfigValue{
		{Id: "unit", Value: unit},
		{Id: "custom.axisPlacement", Value: common.AxisPlacementRight},
	}, dashed()...)
}

func dashed() []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{
		{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
	}
}

func ptr[T any](v T) *T { return &v }
