# The two commands of README.md: `make run` and `make test`.
GO ?= go
PKGS := ./...

.PHONY: run build test deps lint cross race fuzz js bench bench-tool

run:
	$(GO) run ./cmd/wsify

build:
	$(GO) build -o bin/wsify ./cmd/wsify

# test installs whatever the suite needs and is missing, checks formatting
# and vet, runs every test with the race detector, fuzzes the parsers
# briefly, then runs the JavaScript client's tests. .ci/run runs this.
test: deps lint race fuzz js

deps:
	./scripts/deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) test -count=1 ./internal/lockorder/
	@$(MAKE) --no-print-directory cross

# cross vets every package and builds every test binary (not run) for each
# platform of README's "Platforms", so what breaks only off Linux cannot
# land unnoticed. CGO_ENABLED=0: no C toolchain per target is needed.
CROSS ?= linux/amd64 linux/arm64 darwin/arm64 darwin/amd64 freebsd/amd64
cross:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	for t in $(CROSS); do \
		echo "vet and go test -c: $$t"; \
		CGO_ENABLED=0 GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) vet $(PKGS) || exit 1; \
		CGO_ENABLED=0 GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) test -c -o "$$tmp/" $(PKGS) >/dev/null || exit 1; \
	done

race:
	$(GO) test -race -timeout 12m $(PKGS)

# fuzz runs each parser of hostile bytes' fuzzer, named package:Fuzzer, for
# a fixed number of executions (their seed corpora, in each package's
# testdata/fuzz, also run with the ordinary tests).
# The budget is a count, not a duration: with a duration Go 1.26's fuzz
# coordinator can fail a clean run with "context deadline exceeded" when a
# worker is mid-call as the clock runs out (go.dev/issue/75804, fixed in
# Go 1.27); a count has no deadline to race. 200000x is ~8 s per fuzzer
# here. Longer: make fuzz FUZZTIME=20000000x.
FUZZTIME ?= 200000x
FUZZMINIMIZE ?= 20000x
FUZZERS := protocol:FuzzDecode protocol:FuzzDecodePublication protocol:FuzzValid \
	protocol:FuzzDecodeBatch protocol:FuzzDecodeDisconnect hub:FuzzParseFilter broker:FuzzOpenEnvelope \
	protocol:FuzzParseHeader protocol:FuzzChannelName protocol:FuzzIsServerTextFrame \
	server/internal/tlsio:FuzzHelloDone server/internal/httphead:FuzzNormalizeOrigin \
	server/internal/httphead:FuzzEachHeader server/internal/httphead:FuzzRequestLine \
	server/internal/httphead:FuzzIdempotencyKey server/internal/handoff:FuzzParse
fuzz:
	@for pf in $(FUZZERS); do \
		pkg=$${pf%%:*}; f=$${pf#*:}; \
		$(GO) test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZE) ./$$pkg/ || exit 1; \
	done

# js runs the JavaScript client's tests (clients/js/test, node --test)
# against a wsify binary built for the run; on Node below 22 with
# --experimental-websocket (clients/js/run-tests.sh).
js:
	GO=$(GO) ./clients/js/run-tests.sh

# bench runs the Go benchmarks of the hot paths (allocations reported), then
# the load tool's suite at the issue's sizes; figures in bench/RESULTS.md.
# BENCHTIME=1s for steadier figures; the tables hold hundreds of cases.
BENCHTIME ?= 200ms
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) ./protocol/ ./hub/
	@$(MAKE) --no-print-directory bench-tool

# bench-tool runs the load tool (bench/cmd/wsbench) at the issue's sizes:
# idle, fan-out and connect churn against a freshly built server; JSON and
# SVG charts go to bench/out/. BENCHFLAGS adds flags, e.g. -profile (perf).
BENCHFLAGS ?=
bench-tool:
	$(GO) run ./bench/cmd/wsbench $(BENCHFLAGS) suite
