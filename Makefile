# Two entry points matter: `make demo` and `make test` (see README.md).

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

# The broker the integration tests use; scripts/ensure-broker.sh starts it.
export DGE_TEST_AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672/
export DGE_TEST_MANAGEMENT_URL ?= http://guest:guest@127.0.0.1:15672

# Packages whose tests define the -update flag for golden files. `go test
# ./... -update` would fail in the others, so they are named here.
GOLDEN_PKGS := ./cmd/dge ./internal/deploy ./internal/diagram ./internal/gen ./plan

.PHONY: demo build broker tools test check fmt-check vet staticcheck update-golden clean bench chaos

## demo: build dge and walk the arith example through it (scripts/demo.sh)
demo:
	scripts/demo.sh

## build: build bin/dge
build:
	go build -o bin/dge ./cmd/dge

## broker: make sure a local RabbitMQ with the management plugin is running
broker:
	scripts/ensure-broker.sh

## tools: make sure the tools the tests run are installed (promtool, chromium; scripts/ensure-tools.sh)
tools:
	scripts/ensure-tools.sh

## test: start RabbitMQ and install the test tools if needed, then gofmt, vet and every test with -race
test: broker tools fmt-check vet
	go test -race -count=1 -timeout 20m ./...

## check: everything `make test` does, plus staticcheck
check: test staticcheck

## fmt-check: fail when a Go file is not gofmt-formatted
fmt-check:
	@files=$$(gofmt -l $$(go list -e -f '{{.Dir}}' ./...)); \
	if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi

## vet: go vet every package
vet:
	go vet ./...

## staticcheck: run staticcheck (pinned as a go tool in go.mod)
staticcheck:
	go tool staticcheck ./...

## update-golden: rewrite golden files from the current output (review the diff!)
update-golden:
	go test -count=1 $(GOLDEN_PKGS) -update

## clean: remove build output
clean:
	rm -rf bin

## bench: with the runtime's default flags, interleaved rounds, medians and ratios: a process hop vs plain
##        amqp091-go relays (the best by hand: batched acks; pipelined; synchronous confirms), with the CPU
##        time per message, tracing off and on (console exporter to a file, OTLP to a local receiver); a 3-hop
##        graph with its producer vs 3 relays; fairness of a 20 ms handler between instances; a diamond joined
##        by an aggregate vs a process node, and the aggregate alone vs acking each part on its own;
##        then a 1,000-node graph: apply from empty, plan (3 requests) vs per-object reads; then one split of
##        100,000 items: the fold draining them vs a process hop draining as many (items/s, ratio, the fold's peak RSS);
##        then 2,000 runs of a 20 ms handler under dge run (1 to 4 replicas) vs one replica (times, speed-up)
bench: broker
	go test -run '^$$' -bench 'Benchmark(Hop|Pipeline)$$' -benchtime 20000x -count=1 -timeout 30m ./runtime/
	go test -run '^$$' -bench 'Benchmark(Fairness|Diamond)$$' -benchtime 1x -count=1 -timeout 30m ./runtime/
	go test -run '^$$' -bench BenchmarkScale -benchtime 1x -count=1 -timeout 20m ./apply/
	go test -run '^$$' -bench BenchmarkSplitFold -benchtime 1x -count=1 -timeout 30m ./internal/e2e/
	go test -run '^$$' -bench BenchmarkRunBurst -benchtime 1x -count=1 -timeout 20m ./internal/e2e/

## chaos: the fault tests at full size (a few minutes): a private 3-node cluster losing the
##        node that leads its queues, 5,000 arith runs through 60 SIGKILLs of random node
##        instances, operator policies capping the graph's queues, and 2,000 messages with random
##        bad headers among 4,000 normal ones, 3,000 fib runs split into 100 items each, calm and through
##        60 SIGKILLs of random instances (the folding one included), 5,000 orders each routed down the path its
##        label names (or parked as no-route); prints a "chaos:" line of figures per test
##        (runs, lost, duplicates, parked)
chaos: broker
	DGE_CHAOS_RUNS=5000 DGE_CHAOS_KILLS=60 go test -count=1 -timeout 30m -v \
		-run '^(TestCluster|TestArithKillStorm|TestChainOperatorPolicy)$$' ./internal/e2e/ | tee /dev/stderr | grep '^chaos:'
	DGE_SPLIT_RUNS=3000 DGE_SPLIT_KILLS=60 go test -count=1 -timeout 30m -v \
		-run '^(TestFibSplitRuns|TestFibSplitKillStorm)$$' ./internal/e2e/ | tee /dev/stderr | grep '^chaos:'
	DGE_ROUTE_RUNS=5000 go test -count=1 -timeout 10m -v \
		-run '^TestOrdersRouteRuns$$' ./internal/e2e/ | tee /dev/stderr | grep '^chaos:'
	DGE_CHAOS_HEADERS=2000 go test -count=1 -timeout 10m -v \
		-run '^TestConformanceRabbitMQ$$/^HeaderFuzz$$' ./runtime/ | tee /dev/stderr | grep '^chaos:'
