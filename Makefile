# Export@Scale — see README.md. Tools this Makefile needs are installed at pinned versions by the
# targets under "tools".
SHELL := /bin/bash
GO ?= go
BIN := bin
IMAGE ?= exportatscale/exporter:dev
export CGO_ENABLED := 0

.PHONY: build test unit fuzz bench image lint verify acceptance tools

build:
	$(GO) build -trimpath -o $(BIN)/exporter ./exporter/cmd/exporter

# The acceptance run. REQUIRE_TARGET=container (or process, url) makes that target mandatory: a run
# that cannot get it is NOT RUN. Other options: VERIFY_ARGS="--load-requests 200 ..." or the
# VERIFY_* environment variables (README). The verdict decides the exit status: make prints it and
# fails unless GREEN; bin/verify itself exits 0 GREEN, 1 RED, 2 NOT RUN (`go run` would mask that).
REQUIRE_TARGET ?=
VERIFY_ARGS ?=
verify:
	$(GO) build -o $(BIN)/verify ./scenarios/cmd/verify
	$(BIN)/verify $(if $(REQUIRE_TARGET),--target $(REQUIRE_TARGET) --require-target) $(VERIFY_ARGS)

image: build
	rm -rf $(BIN)/image && mkdir -p $(BIN)/image/data && cp $(BIN)/exporter $(BIN)/image/
	docker build -t $(IMAGE) -f exporter/Dockerfile $(BIN)/image

# Every test: unit tests (exporter, evidence, harness self-tests, dashboards), the fuzz targets
# briefly, the alert rule tests and the metrics contract against a live exporter.
test: unit fuzz test-observability acceptance

# The scenarios package is the acceptance suite; it runs through verify (acceptance), not here.
unit:
	SKIP_CONTAINER_TESTS= $(GO) test -count=1 $$($(GO) list ./... | grep -v '/scenarios$$')

# The acceptance suite in container mode, required: no engine means NOT RUN and a failed make test.
acceptance:
	$(GO) build -o $(BIN)/verify ./scenarios/cmd/verify
	$(BIN)/verify --target container --require-target

FUZZTIME ?= 5s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseNDJSON$$' -fuzztime $(FUZZTIME) ./exporter/
	$(GO) test -run '^$$' -fuzz '^FuzzParseExportQuery$$' -fuzztime $(FUZZTIME) ./exporter/

# End-to-end benchmarks of the exporter binary over loopback (see exporter/bench); sqlite3 is the
# CSV baseline.
BENCHTIME ?= 3x
bench:
	@command -v sqlite3 >/dev/null || (apt-get update && apt-get install -y --no-install-recommends sqlite3)
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout 30m ./exporter/bench/

lint: lint-observability
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

include mk/observability.mk
