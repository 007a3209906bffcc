# Observability: alert rules, the generated dashboard, the metric contract and the CI workflow lint.
# Included from the root Makefile; run from the repository root.
#
#   make lint-observability   rules lint + rule unit tests, dashboard JSON up to date, actionlint
#   make test-observability   rule unit tests + the contract test against a live exporter
#   make dashboards           regenerate dashboards/exporter.json from dashboards/dashboards.go

PROMTOOL ?= promtool
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT := $(TOOLS_BIN)/actionlint

.PHONY: tools-promtool tools-actionlint lint-observability test-observability dashboards

# Debian's package ships a promtool in seconds; building it with `go install` takes minutes. The
# package also installs a Prometheus server; where apt starts services on install, stop it with
# `systemctl disable --now prometheus` if it is unwanted.
tools-promtool:
	@command -v $(PROMTOOL) >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends prometheus)
	@$(PROMTOOL) --version 2>&1 | head -n 1

# Pinned: reinstalled whenever the binary in $(TOOLS_BIN) is missing or reports another version.
tools-actionlint:
	@if [ "$$($(ACTIONLINT) -version 2>/dev/null | head -n 1)" != "$(ACTIONLINT_VERSION)" ]; then \
		echo "installing actionlint $(ACTIONLINT_VERSION) into $(TOOLS_BIN)"; \
		GOBIN=$(TOOLS_BIN) $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION); \
	fi

lint-observability: tools-promtool tools-actionlint
	$(PROMTOOL) check rules --lint-fatal alerts/exporter.rules.yml
	$(PROMTOOL) test rules alerts/exporter.rules.test.yml
	@$(GO) run ./dashboards/cmd/gendashboards -o - | diff -u dashboards/exporter.json - \
		|| { echo "dashboards/exporter.json is stale: run 'make dashboards' and commit it"; exit 1; }
	$(ACTIONLINT)

# The contract test builds and starts the exporter on 127.0.0.1; a missing promtool fails it (the
# switch that would skip it, EXPORTATSCALE_SKIP_MISSING, is cleared).
test-observability: tools-promtool
	$(PROMTOOL) test rules alerts/exporter.rules.test.yml
	cd tools/contract && EXPORTATSCALE_SKIP_MISSING= $(GO) test -count=1 ./...

dashboards:
	$(GO) run ./dashboards/cmd/gendashboards -o dashboards/exporter.json
