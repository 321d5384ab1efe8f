# backupPVC conformance harness: see README.md.
SHELL := /usr/bin/env bash
GO ?= go
BIN := $(CURDIR)/bin
ARTIFACTS ?= $(CURDIR)/artifacts
export BACKUPPVC_CACHE ?= $(HOME)/.cache/backuppvc-conformance

.PHONY: all build test negative chaos chaos-smoke test-kind test-kind-clusters test-kind-existing datamover-image unit fuzz vet fmt-check lint tools tools-velero cluster-up cluster-down e2e e2e-one bench clean

all: build

## build: the reference command into ./bin
build:
	$(GO) build -o $(BIN)/ ./reference/cmd/...

## tools: build the pinned upstream binaries that are missing (cached in $(BACKUPPVC_CACHE))
tools:
	hack/tools.sh

## tools-velero: Velero, its aws plugin and versitygw, for SUT=velero (cold: about 15 minutes)
tools-velero:
	hack/tools.sh velero velero-plugin-for-aws versitygw

## test: every test there is: gofmt, vet, actionlint, the Go unit tests with -race in parallel, the
## integration tests (real kube-apiserver, csi-sanity, local and existing lanes; they fail, not skip,
## when a pinned binary is missing) one package at a time, so their clusters do not share the 2
## cores with each other, the side-by-side bench's smoke run, the negative controls, then make e2e
## on the local lane for both systems under test (the reference and Velero, with their
## differential table), then make test-kind when a Docker engine
## answers or can be started (as root: hack/kind/docker.sh installs and starts one), unless
## TEST_KIND=no, and the differential table of both lanes ($(ARTIFACTS)/differential-lanes.md)
TEST_KIND ?= auto
test: fmt-check vet lint tools tools-velero
	$(GO) test -race -count=1 -skip Integration ./...
	BACKUPPVC_REQUIRE_INTEGRATION=1 $(GO) test -race -count=1 -p 1 -run Integration ./...
	$(MAKE) --no-print-directory bench-smoke
	$(MAKE) --no-print-directory chaos-smoke
	$(MAKE) --no-print-directory negative
	$(MAKE) e2e LANE=local DRIVER=emulator SUT=reference,velero
	@if [ "$(TEST_KIND)" = no ]; then echo "make test: the kind lane was skipped (TEST_KIND=no)"; \
	elif hack/kind/docker.sh can-start; then $(MAKE) test-kind && \
		$(GO) run ./suites/cmd/differential -o $(ARTIFACTS)/differential-lanes.md $(foreach s,reference velero,$(ARTIFACTS)/$(s)/results.json $(ARTIFACTS)/kind/$(s)/results.json) && \
		echo "differential table of both lanes: $(ARTIFACTS)/differential-lanes.md"; \
	else echo "make test: the kind lane was skipped: no Docker engine can be started here (see above)"; fi

## negative: the negative controls: the reference built with one planted defect at a time
## (reference/mutant), each run against the conformance spec that must fail it, on one local lane;
## fails unless every mutant is caught with its own evidence. Table: $(ARTIFACTS)/negative/mutants.md.
## NEGATIVE_PARALLEL mutants at once (most of a run is waiting for a prepare timeout); MUTANTS=a,b
## runs only those. Part of make test.
NEGATIVE_PARALLEL ?= 4
negative: tools
	$(GO) run ./suites/cmd/negative --artifacts $(ARTIFACTS)/negative --parallel $(NEGATIVE_PARALLEL) $(if $(MUTANTS),--mutants $(MUTANTS))

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

## chaos: crash safety, numbers and a verdict (issue 16): CHAOS_ROUNDS rounds on one local lane
## (CHAOS_LANE) of 3 backups each (2 that must complete, 1 that must fail at the prepare timeout),
## the reference killed with SIGKILL and restarted at a seeded random moment of each round, and
## each CSI sidecar and the emulator once per round; after each round: every outcome right, every
## timeout on time (acceptedTimestamp + timeout, D7), nothing left (D6). CHAOS_SEED replays a run
## (unset: one from the clock, printed). Report: $(ARTIFACTS)/chaos/results.md and .json; fails on a
## wrong outcome or a leak. Not part of make test (chaos-smoke is).
CHAOS_ROUNDS ?= 30
CHAOS_SEED ?=
CHAOS_LANE ?= chaos-local
chaos: tools
	$(GO) run ./suites/cmd/chaos --rounds $(CHAOS_ROUNDS) $(if $(CHAOS_SEED),--seed $(CHAOS_SEED)) --lane-name $(CHAOS_LANE) --artifacts $(ARTIFACTS)/chaos

## chaos-smoke: make chaos for one round (about 45 s warm), so that it cannot stop working
## unnoticed. Part of make test. Its seed is fixed (CHAOS_SMOKE_SEED): seed 1 kills the reference
## while the timed-out DataUpload waits (the restart must keep its count, D7), away from the two
## crash windows make chaos finds (see README), which would make make test fail at random.
CHAOS_SMOKE_SEED ?= 1
chaos-smoke: tools
	$(GO) run ./suites/cmd/chaos --rounds 1 --seed $(CHAOS_SMOKE_SEED) --lane-name $(CHAOS_LANE)-smoke --artifacts $(ARTIFACTS)/chaos-smoke

## cluster-up / cluster-down: the offline local lane for people (LANE_NAME, DRIVER)
LANE_NAME ?= backuppvc
DRIVER ?= emulator
cluster-up: tools
	$(GO) run ./suites/cmd/lane up --name $(LANE_NAME) --driver $(DRIVER) --artifacts $(ARTIFACTS)

cluster-down:
	$(GO) run ./suites/cmd/lane down --name $(LANE_NAME)

## e2e: the conformance suites. LANE=local (default, offline) | kind (a Docker engine is found or
## installed and started, see hack/kind) | existing (KUBECONFIG=...) ; DRIVER=<profile under drivers/> ;
## SUT=reference (default) | velero | reference,velero (one run each, reports under
## $(ARTIFACTS)/<sut>/, then their differential table in $(ARTIFACTS)/differential.md) ;
## PROCS parallel Ginkgo processes (default: 8 on the local lane with the reference, where the
## 2 cores are the limit and two more short specs fill the long ones' waits; 6 elsewhere, the six
## long specs starting at once) ; LABELS a Ginkgo label
## filter ; GINKGO_FLAGS more of Ginkgo's flags (e.g. --json-report=report.json) ;
## PREPARE_TIMEOUT overrides the profile's prepare timeout (e.g. 20s) ; KIND_IMAGES=offline|upstream|auto for the kind lane ;
## BACKUP_POD_IMAGE where an existing cluster's nodes find the harness's data mover image ;
## INSTALL_CRDS=1 installs the Velero and snapshot CRDs an existing cluster lacks (removed after) ;
## E2E_LANE_PREFIX names the lanes (<prefix>-<lane>-<sut>): a lane left by a run of the same name is
## swept at start, so two checkouts running make e2e at once need different prefixes
E2E_LANE_PREFIX ?= e2e
LANE ?= local
SUT ?= reference
PROCS ?=
LABELS ?=
KIND_IMAGES ?= auto
comma := ,
SUTS = $(subst $(comma), ,$(SUT))
e2e: tools $(if $(filter velero,$(SUTS)),tools-velero) $(BIN)/ginkgo $(BIN)/conformance.test
	@if [ "$(LANE)" = existing ] && [ -z "$$KUBECONFIG" ]; then echo "make e2e LANE=existing needs KUBECONFIG=<your cluster>" >&2; exit 2; fi
	@for s in $(SUTS); do case "$$s" in reference|velero) ;; *) echo "make e2e: unknown SUT $$s (reference, velero)" >&2; exit 2 ;; esac; done
	@if [ $(words $(SUTS)) -eq 1 ]; then $(MAKE) --no-print-directory e2e-one SUT_ONE=$(SUTS) SUT_ARTIFACTS=$(ARTIFACTS); exit; fi; \
	status=0; for s in $(SUTS); do $(MAKE) --no-print-directory e2e-one SUT_ONE=$$s SUT_ARTIFACTS=$(ARTIFACTS)/$$s || status=1; done; \
	$(GO) run ./suites/cmd/differential -o $(ARTIFACTS)/differential.md $(foreach s,$(SUTS),$(ARTIFACTS)/$(s)/results.json) || status=1; \
	echo "differential table: $(ARTIFACTS)/differential.md"; exit $$status

# make e2e's two binaries are handed to the go command only when one of their inputs is newer
# than the binary: a Go file of this repository or its folder (a file added or removed changes
# its folder's time), go.mod, go.sum, or the go command's version and settings ($(GO_ENV_STAMP),
# rewritten only when they change). On a warm run that spares the go command's own up-to-date
# check, which reads every source file the suite depends on: 1.2 s before each make e2e. The
# binary is touched after the go command, which leaves a binary it finds up to date as it was.
GO_SOURCES := $(shell find . \( -path ./artifacts -o -path ./bin -o -path ./.git \) -prune -o \( -name '*.go' -o -type d \) -print)
GO_ENV_STAMP := $(BIN)/.go-env
.PHONY: go-env-changed
$(GO_ENV_STAMP): go-env-changed
	@mkdir -p $(BIN); $(GO) env GOVERSION GOROOT GOFLAGS GOEXPERIMENT GOOS GOARCH CGO_ENABLED > $@.new && \
	  { cmp -s $@.new $@ && rm $@.new || mv $@.new $@; }
$(BIN)/ginkgo: go.mod go.sum $(GO_ENV_STAMP)
	$(GO) build -o $@ github.com/onsi/ginkgo/v2/ginkgo
	@touch $@
$(BIN)/conformance.test: $(GO_SOURCES) go.mod go.sum $(GO_ENV_STAMP)
	$(GO) test -c -o $@ ./suites/conformance
	@touch $@

# e2e-one: the suites against one system under test (SUT_ONE), reports in SUT_ARTIFACTS. The suite
# is built by e2e into $(BIN)/conformance.test (above; ginkgo would link it anew each time: about
# 4 s of the time to verdict); -test.run keeps the package's unit tests out of every Ginkgo process.
e2e-one:
	rm -rf $(SUT_ARTIFACTS)/diagnostics $(SUT_ARTIFACTS)/certification.md $(SUT_ARTIFACTS)/junit.xml $(SUT_ARTIFACTS)/results.json
	mkdir -p $(SUT_ARTIFACTS)
	$(if $(filter kind,$(LANE)),KIND_IMAGES=$(KIND_IMAGES) hack/kind/with-docker.sh) \
	$(BIN)/ginkgo -p --procs=$(or $(PROCS),$(if $(and $(filter local,$(LANE)),$(filter reference,$(SUT_ONE))),8,6)) -v --no-color --timeout=30m $(if $(LABELS),--label-filter='$(LABELS)') \
		--junit-report=junit.xml $(GINKGO_FLAGS) --output-dir=$(SUT_ARTIFACTS) $(BIN)/conformance.test -- \
		-test.run='^TestConformance$$' --lane=$(LANE) --driver=$(DRIVER) --sut=$(SUT_ONE) --lane-name=$(E2E_LANE_PREFIX)-$(LANE)-$(SUT_ONE) --artifacts=$(SUT_ARTIFACTS) $(if $(KUBECONFIG),--lane-kubeconfig=$(KUBECONFIG)) \
		--kind-images=$(KIND_IMAGES) $(if $(PREPARE_TIMEOUT),--prepare-timeout=$(PREPARE_TIMEOUT)) $(if $(BACKUP_POD_IMAGE),--backup-pod-image=$(BACKUP_POD_IMAGE)) $(if $(filter 1 yes true,$(INSTALL_CRDS)),--install-crds); \
	status=$$?; echo "certification report ($(SUT_ONE)): $(SUT_ARTIFACTS)/certification.md; JUnit: $(SUT_ARTIFACTS)/junit.xml"; \
	if [ $$status -ne 0 ] && [ -f $(SUT_ARTIFACTS)/certification.md ]; then echo "why the run failed ($(SUT_ONE)), from its report:"; $(PRINT_FAILURES) $(SUT_ARTIFACTS)/certification.md; fi; exit $$status

# PRINT_FAILURES prints a failed run's reasons from its report (each failure's first 40 lines) at
# the end of the output, where a CI's log is read first: Ginkgo's summary names only the places.
PRINT_FAILURES = awk '/^\#\#\# FAILED/ { p = 1; n = 0; fences = 0; print "" } \
	p { print; n++; if ($$0 == "```" && ++fences == 2) p = 0; else if (n == 40) { print "... (the rest in the report)"; p = 0 } }'

## test-kind: the suites on the kind lane with the emulator and the offline node image (no
## traffic leaves the machine; the first run builds the images, about 5 minutes) for KIND_SUT
## (default both systems under test: the reference, then Velero installed in the cluster with its
## own data mover), reports under $(ARTIFACTS)/kind/<sut>, their differential table in
## $(ARTIFACTS)/kind/differential.md
KIND_SUT ?= reference,velero
test-kind: test-kind-clusters
	$(MAKE) e2e LANE=kind DRIVER=emulator KIND_IMAGES=offline SUT=$(KIND_SUT) ARTIFACTS=$(ARTIFACTS)/kind

## test-kind-clusters: the Go tests that need kind clusters of their own, one after the other:
## Velero installed with one piece broken at a time (a node-agent in CrashLoopBackOff, an image the
## node lacks, an unreachable object store: the start must fail at once, naming it, and leave
## nothing), then test-kind-existing's vendor certification
test-kind-clusters: tools tools-velero
	KIND_IMAGES=offline hack/kind/with-docker.sh env BACKUPPVC_KIND=1 $(GO) test -count=1 -v -p 1 -timeout 40m \
		-run '^(TestKindVeleroFaults|TestKindExistingLane)$$' ./suites/sut/ ./suites/lane/existing/

## test-kind-existing: a vendor's certification on a cluster with a real kubelet (LANE=existing
## against a kind cluster whose owner installed the emulator: the data-path specs must run and pass,
## a wrong profile fail, the cluster be left exactly as found); alone (make test runs it in
## test-kind-clusters)
test-kind-existing: tools
	KIND_IMAGES=offline hack/kind/with-docker.sh env BACKUPPVC_KIND=1 $(GO) test -count=1 -v -timeout 30m -run '^TestKindExistingLane' ./suites/lane/existing/

## datamover-image: the harness's data mover (the backupPod image of the reference, and the
## probe of the existing lane) as an OCI image archive, $(ARTIFACTS)/datamover-image.tar, for a
## vendor's registry (it prints how to push it and the BACKUP_POD_IMAGE to give); no Docker needed
datamover-image:
	mkdir -p $(BIN)/datamover $(ARTIFACTS)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/datamover/velero ./reference/cmd/backuppvc-datamover
	$(GO) run ./hack/oci-image -o $(ARTIFACTS)/datamover-image.tar -repository backuppvc/datamover $(BIN)/datamover/velero=/velero

## lint: the GitHub Actions workflow, with actionlint built from the Go module proxy
ACTIONLINT_VERSION ?= v1.7.12
lint:
	$(GO) run github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION) .github/workflows/*.yaml

## bench: numbers, not verdicts: the emulator's Go benchmark, then the lane-level measurements
## (time to verdict; exposer scale at BENCH_SCALE concurrent backups for each of BENCH_SYSTEMS, the
## reference and the real Velero, with each stage's time, each program's CPU and memory and each
## one's API requests from the API server's audit log; the page's storage scenarios; Velero's
## exposer as a library side by side with the reference's, at each of SIDEBYSIDE_N) into
## $(ARTIFACTS)/bench. The time to verdict is VERDICT_RUNS runs of make e2e, each part's median
## beside them (the machine's speed drifts). Every step fails the target when it fails (pipefail on
## each piped line; failed make e2e runs still get the verdict table written, then fail the target,
## pointing to their logs; a scale step with a DataUpload never Prepared fails). About 28 minutes
## warm on 2 cores.
BENCH_SCALE ?= 1,10,50,200
BENCH_SYSTEMS ?= reference,velero
SIDEBYSIDE_N ?= 10,50,200
VERDICT_RUNS ?= 3
bench: tools tools-velero
	mkdir -p $(ARTIFACTS)/bench
	set -o pipefail; $(GO) test -run XXX -bench . -benchtime 5x -count 3 ./drivers/emulator/ | tee $(ARTIFACTS)/bench/go-bench.txt
	$(MAKE) bench-verdict
	$(GO) run ./suites/cmd/bench --systems $(BENCH_SYSTEMS) --scale $(BENCH_SCALE) --artifacts $(ARTIFACTS)/bench
	set -o pipefail; cd suites/bench/sidebyside && $(GO) run . -n $(SIDEBYSIDE_N) --artifacts $(ARTIFACTS)/bench | tee $(ARTIFACTS)/bench/sidebyside.md

## bench-verdict: make bench's time to verdict alone: VERDICT_RUNS runs of make e2e, each one's
## parts and the machine's speed just before it (bench --calibrate), their medians and the median
## run's specs, into $(ARTIFACTS)/bench/verdict.md.
.PHONY: bench-verdict
bench-verdict:
	mkdir -p $(ARTIFACTS)/bench
	$(GO) build -o $(BIN)/bench ./suites/cmd/bench
	set -o pipefail; junits=; walls=; cals=; failed=; for i in $$(seq 1 $(VERDICT_RUNS)); do \
	  cal=$$($(BIN)/bench --calibrate) || exit; cals=$${cals:+$$cals,}$$cal; \
	  echo "bench: make e2e, run $$i of $(VERDICT_RUNS) ($(ARTIFACTS)/bench/e2e-$$i.log; bench --calibrate just before: $$cal)"; start=$$(date +%s%N); \
	  $(MAKE) e2e ARTIFACTS=$(ARTIFACTS)/bench/e2e-$$i > $(ARTIFACTS)/bench/e2e-$$i.log 2>&1 || failed="$$failed $(ARTIFACTS)/bench/e2e-$$i.log"; \
	  junits=$${junits:+$$junits,}$(ARTIFACTS)/bench/e2e-$$i/junit.xml; walls=$${walls:+$$walls,}$$(( ($$(date +%s%N) - start) / 1000000 ))ms; \
	done; \
	$(BIN)/bench --verdict-junit $$junits --verdict-wall $$walls --verdict-calibration $$cals | tee $(ARTIFACTS)/bench/verdict.md; verdict=$$?; \
	if [ -n "$$failed" ]; then echo "make bench: make e2e failed:$$failed" >&2; exit 1; fi; exit $$verdict

## bench-smoke: make bench's two lane-level commands for one backup each, so that neither can stop
## working unnoticed: the scale step for the reference and the real Velero (no storage scenarios),
## then the side-by-side module (its own go.mod, outside go vet ./...) vetted, built and run for one
## snapshot per exposer, each on a throwaway local lane (about 2 minutes warm); fails when a run
## fails or a table lacks a measured row for either system. Part of make test.
.PHONY: bench-smoke
bench-smoke: tools tools-velero
	@set -o pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; start=$$(date +%s); \
	echo "bench-smoke: the scale step for N=1, reference and velero (in $$tmp/scale)"; \
	$(GO) run ./suites/cmd/bench --systems reference,velero --scale 1 --no-scenarios --artifacts "$$tmp/scale" > "$$tmp/scale.md" && \
	grep '^| reference | 1 | [0-9]' "$$tmp/scale.md" && grep '^| velero | 1 | [0-9]' "$$tmp/scale.md" || \
	{ echo "make bench-smoke: the scale step failed or its table lacks a row (see above)" >&2; exit 1; }; \
	echo "bench-smoke: go vet, go build and a run with -n 1 of suites/bench/sidebyside (in $$tmp)"; cd suites/bench/sidebyside && \
	$(GO) vet . && $(GO) build -o "$$tmp/sidebyside" . && "$$tmp/sidebyside" -n 1 --artifacts "$$tmp" | tee "$$tmp/sidebyside.md" && \
	grep -q '^| velero | [0-9]' "$$tmp/sidebyside.md" && grep -q '^| reference | [0-9]' "$$tmp/sidebyside.md" || \
	{ echo "make bench-smoke: the side-by-side module does not vet or build, its run failed, or its table is empty" >&2; exit 1; }; \
	echo "make bench-smoke: ok in $$(( $$(date +%s) - start ))s"

clean:
	rm -rf $(BIN) $(ARTIFACTS)
