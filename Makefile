# Export@Scale — see README.md. Tools this Makefile needs are installed at pinned versions by the
# targets under "tools".
SHELL := /bin/bash
GO ?= go
BIN := bin
IMAGE ?= exportatscale/exporter:dev
export CGO_ENABLED := 0

.PHONY: build test unit fuzz bench image lint verify tools
build:
	$(GO) build -trimpath -o $(BIN)/exporter ./exporter/cmd/exporter

image: build
	rm -rf $(BIN)/image && mkdir -p $(BIN)/image/data && cp $(BIN)/exporter $(BIN)/image/
	docker build -t $(IMAGE) -f exporter/Dockerfile $(BIN)/image

# Unit tests, then each fuzz target briefly on its seed corpus plus a few seconds of new inputs.
test: unit fuzz

unit:
	$(GO) test -count=1 ./...

FUZZTIME ?= 5s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseNDJSON$$' -fuzztime $(FUZZTIME) ./exporter/
	$(GO) test -run '^$$' -fuzz '^FuzzParseExportQuery$$' -fuzztime $(FUZZTIME) ./exporter/

bench:
	./exporter/bench/run.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
