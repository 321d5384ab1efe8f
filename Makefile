# backupPVC conformance harness: see README.md.
SHELL := /usr/bin/env bash
GO ?= go
BIN := $(CURDIR)/bin
ARTIFACTS ?= $(CURDIR)/artifacts
export BACKUPPVC_CACHE ?= $(HOME)/.cache/backuppvc-conformance

.PHONY: all build test unit fuzz vet fmt-check tools cluster-up cluster-down e2e bench clean

all: build

## build: the reference command into ./bin
build:
	$(GO) build -o $(BIN)/ ./reference/cmd/...

## tools: build the pinned upstream binaries that are missing (cached in $(BACKUPPVC_CACHE))
tools:
	hack/tools.sh

## test: every test there is: gofmt, vet, then all Go tests with -race, including the integration
## tests on a real kube-apiserver (they fail, not skip, when a pinned binary is missing)
test: fmt-check vet tools
	BACKUPPVC_REQUIRE_INTEGRATION=1 $(GO) test -race -count=1 ./...

## unit: the Go tests alone; integration tests skip when the binaries are not built
unit:
	$(GO) test -race -count=1 ./...

## fuzz: the config parser and linter (FUZZTIME=2m by default)
fuzz:
	cd reference/config && $(GO) test -run XXX -fuzz FuzzLint -fuzztime $${FUZZTIME:-2m} .

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

## cluster-up / cluster-down: the offline local lane for people (LANE_NAME, DRIVER)
LANE_NAME ?= backuppvc
DRIVER ?= emulator
cluster-up: tools
	$(GO) run ./suites/cmd/lane up --name $(LANE_NAME) --driver $(DRIVER) --artifacts $(ARTIFACTS)

cluster-down:
	$(GO) run ./suites/cmd/lane down --name $(LANE_NAME)

## e2e: the conformance suites on the offline local lane
e2e:
	@echo "make e2e: the conformance suites (issue 5) and the local lane (issue 3) are not built yet." >&2
	@exit 2

clean:
	rm -rf $(BIN) $(ARTIFACTS)
