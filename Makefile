# Export@Scale — see README.md. Tools this Makefile needs are installed at pinned versions by the
# targets under "tools".
SHELL := /bin/bash

# The tools every part of this Makefile and of the mk/*.mk it includes uses, defined here once.
GO ?= go
BIN := bin
# Tools installed at pinned versions (`go install`) go here.
TOOLS_BIN ?= $(CURDIR)/$(BIN)/tools
# apt-get and mount need root: sudo unless this already runs as root (CI runners have
# passwordless sudo; containers usually run as root). `make SUDO=` runs them as they are.
SUDO ?= $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# The tag `make image` builds (`make image IMAGE=REF` builds REF).
IMAGE_TAG ?= exportatscale/exporter:dev
export CGO_ENABLED := 0

.PHONY: build test unit fuzz full-volume bench image lint verify acceptance verify-clickhouse tools soak

build:
	$(GO) build -trimpath -o $(BIN)/exporter ./exporter/cmd/exporter

# The acceptance run. REQUIRE_TARGET=container (or process, url) makes that target mandatory: a run
# that cannot get it is NOT RUN. IMAGE=REF judges any image in the local engine that implements the
# v1 API and the container contract (docs/design.md), never pulled: --target image --image REF
# --require-target. IMAGE comes from the make command line only (a plain assignment here), so an
# IMAGE in the environment cannot change what is judged. Other options: VERIFY_ARGS="--load-requests
# 200 ..." or the VERIFY_* environment variables (docs/acceptance.md). The verdict decides the exit status: make
# prints it and fails unless GREEN; bin/verify itself exits 0 GREEN, 1 RED, 2 NOT RUN (`go run` would
# mask that).
# SIGN_KEY=FILE (an ed25519 private key, PEM: `evidence keygen`) signs the run's bundle,
# whatever its verdict: bin/verify --sign-key FILE writes attestation.intoto.json into the bundle
# directory (as `evidence attest --key FILE DIR` does). The exit status still follows the verdict,
# with two more cases: a key (or a --thresholds file, or a --baseline bundle) that cannot be used is
# refused before anything runs, with no bundle written: 2, as NOT RUN; a bundle that cannot be
# signed fails a GREEN run too: 3 (a RED or NOT RUN run keeps its 1 or 2).
# PROFILE=FILE judges the export API a profile describes (docs/profiles.md): --profile FILE; its
# service says how it runs (a process the run starts, or a url).
PROFILE ?=
REQUIRE_TARGET ?=
IMAGE =
VERIFY_ARGS ?=
SIGN_KEY ?=
VERIFY_TARGET_ARGS = $(if $(IMAGE),--target image --image $(IMAGE) --require-target,$(if $(REQUIRE_TARGET),--target $(REQUIRE_TARGET) --require-target))
VERIFY_RUN = $(BIN)/verify $(VERIFY_TARGET_ARGS) $(if $(PROFILE),--profile "$(PROFILE)") $(VERIFY_ARGS) $(if $(SIGN_KEY),--sign-key "$(SIGN_KEY)")
verify:
	$(if $(and $(IMAGE),$(REQUIRE_TARGET)),$(error give IMAGE=REF or REQUIRE_TARGET=KIND, not both))
	$(GO) build -o $(BIN)/verify ./scenarios/cmd/verify
	$(VERIFY_RUN)

image: build
	rm -rf $(BIN)/image && mkdir -p $(BIN)/image/data && cp $(BIN)/exporter $(BIN)/image/
	docker build -t $(or $(IMAGE),$(IMAGE_TAG)) -f exporter/Dockerfile $(BIN)/image

# Every test: unit tests (exporter, evidence, harness self-tests, dashboards), the fuzz targets
# briefly, the exporter on a really full volume, the alert rule tests and the metrics contract
# against a live exporter, the acceptance run. Nothing is skipped: what cannot run fails.
test: unit fuzz full-volume test-observability acceptance verify-cluster verify-clickhouse

# The scenarios package is the acceptance suite; it runs through verify (acceptance), not here.
# The exporter's package runs twice: over bbolt with the rest, then over PostgreSQL (a throwaway
# cluster its TestMain starts).
unit: tools-chromium tools-nginx tools-postgres
	EXPORTATSCALE_SKIP_MISSING= $(GO) test -count=1 $$($(GO) list ./... | grep -v -e '/scenarios$$' -e '/profiletest$$')
	EXPORTER_TEST_STORE=postgres $(GO) test -count=1 ./exporter/

# ClickHouse 18.16 from Debian's package judged through profiles/clickhouse.yaml (harness/profiletest):
# the whole run against its own throwaway server, failing when a check is not run or a finding
# appears that the test does not list as ClickHouse's; and the same server exporting as a user
# whose settings cut results silently, which must be RED on A1.
verify-clickhouse: tools-clickhouse
	EXPORTATSCALE_SKIP_MISSING= $(GO) test -count=1 -v -timeout 20m ./harness/profiletest/

# The acceptance suite in container mode, required: no engine means NOT RUN and a failed make test.
acceptance:
	$(GO) build -o $(BIN)/verify ./scenarios/cmd/verify
	$(BIN)/verify --target container --require-target

# The acceptance run in container mode with a 10-minute soak (SOAK=DURATION to change it): a constant
# open-model load, leaks judged by the slope of memory, descriptors and goroutines. Not part of test.
SOAK ?= 10m
soak:
	$(GO) build -o $(BIN)/verify ./scenarios/cmd/verify
	$(BIN)/verify --target container --require-target --soak $(SOAK) $(VERIFY_ARGS)

# The acceptance suite against the deployment of docs/deployment.md, required: PostgreSQL, the exporter
# replicas (VERIFY_REPLICAS, default 2) as containers on the host network, HAProxy in front.
verify-cluster: tools-haproxy tools-postgres
	$(GO) build -o $(BIN)/verify ./scenarios/cmd/verify
	$(BIN)/verify --target cluster --require-target $(VERIFY_ARGS)

# TestFullVolume fills a real 16 MiB tmpfs until the store answers 507. Mounting takes root (or
# sudo); without it this target fails and says why rather than skipping the test.
full-volume:
	@vol=$$(mktemp -d) && \
	if ! $(SUDO) mount -t tmpfs -o size=16m tmpfs "$$vol"; then \
		rmdir "$$vol"; echo "full-volume: cannot mount a tmpfs (needs root or sudo): TestFullVolume NOT RUN"; exit 1; \
	fi; \
	rc=0; EXPORTER_TEST_FULL_VOLUME="$$vol" $(GO) test -count=1 -run '^TestFullVolume$$' ./exporter/ || rc=$$?; \
	$(SUDO) umount "$$vol"; rmdir "$$vol"; exit $$rc

FUZZTIME ?= 5s
# FuzzLoad's seeds are whole profiles and FuzzDialectCSV's whole CSV exports: minimizing each new
# input for the default 60 s stalls them.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseNDJSON$$' -fuzztime $(FUZZTIME) ./exporter/
	$(GO) test -run '^$$' -fuzz '^FuzzParseExportQuery$$' -fuzztime $(FUZZTIME) ./exporter/
	$(GO) test -run '^$$' -fuzz '^FuzzExtract$$' -fuzztime $(FUZZTIME) ./internal/pdftext/
	$(GO) test -run '^$$' -fuzz '^FuzzFields$$' -fuzztime $(FUZZTIME) ./harness/internal/ratelimit/
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./harness/profile/
	$(GO) test -run '^$$' -fuzz '^FuzzDialectCSV$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./harness/export/

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
include mk/browser.mk
include mk/deploy.mk
include mk/postgres.mk
include mk/cluster.mk
include mk/clickhouse.mk
