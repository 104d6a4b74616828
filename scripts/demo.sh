#!/usr/bin/env bash
# demo.sh walks the arith example through dge, step by step: what `make demo`
# runs. Each step prints the command it runs, so the output reads as a
# tutorial.
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLE=examples/arith
DGE=bin/dge

step() {
	printf '\n==> %s\n' "$*"
}

run() {
	printf '$ %s\n' "$*"
	"$@"
}

step "Fetch the Go module dependencies"
run go mod download

step "Build dge"
run go build -o "$DGE" ./cmd/dge
run "$DGE" version

step "Validate the example graph"
run "$DGE" validate "$EXAMPLE"

step "Draw it (Graphviz dot; pipe to 'dot -Tsvg' for a picture)"
run "$DGE" graph "$EXAMPLE"

step "Draw it as a Mermaid flowchart (renders in GitHub Markdown)"
run "$DGE" graph -format mermaid "$EXAMPLE"

step "Check the graph files are formatted"
run "$DGE" fmt -check "$EXAMPLE"

step "Make sure RabbitMQ with the management plugin is running"
run scripts/ensure-broker.sh

step "Plan the example's topology on the broker (vhost /): nothing changes yet"
run "$DGE" plan -no-color "$EXAMPLE"

step "Apply it (idempotent: a second run finds nothing to do)"
run "$DGE" apply -auto-approve -no-color "$EXAMPLE"

step "Plan again: the broker matches the graph (-detailed-exitcode exits 0)"
run "$DGE" plan -detailed-exitcode -no-color "$EXAMPLE"

printf '\nDemo finished.\n'
