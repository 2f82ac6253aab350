# The two commands of README.md: `make run` and `make test`.
GO ?= go
PKGS := ./...

.PHONY: run build test deps lint race fuzz bench bench-tool

run:
	$(GO) run ./cmd/wsify

build:
	$(GO) build -o bin/wsify ./cmd/wsify

# test installs whatever the suite needs and is missing, checks formatting
# and vet, then runs every test with the race detector. .ci/run runs this.
test: deps lint race

deps:
	./scripts/deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

race:
	$(GO) test -race -timeout 12m $(PKGS)

# fuzz runs each fuzzer briefly; CI runs it as part of the race tests' seed corpus.
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzDecode$$ -fuzztime=$(FUZZTIME) ./protocol/
	$(GO) test -run='^$$' -fuzz=FuzzDecodePublication$$ -fuzztime=$(FUZZTIME) ./protocol/

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./protocol/ ./hub/

# bench-tool runs the load tool (bench/cmd/wsbench) at the issue's sizes:
# idle, fan-out and connect churn against a freshly built server; JSON and
# SVG charts go to bench/out/. BENCHFLAGS adds flags, e.g. -profile (perf).
BENCHFLAGS ?=
bench-tool:
	$(GO) run ./bench/cmd/wsbench $(BENCHFLAGS) suite
