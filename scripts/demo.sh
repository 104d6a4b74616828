#!/usr/bin/env bash
# demo.sh walks the arith example through dge, step by step, then the
# orders (on the broker: its route's two paths), fib and docs examples: what `make demo` runs. Each step prints the command it runs, so the output reads as a
# tutorial.
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLE=examples/arith
DGE=bin/dge

LOGS=$(mktemp -d)
PIDS=()

# stop_nodes sends SIGTERM to the node processes the demo started and waits
# for them; it also runs on exit, so an interrupted demo leaves none behind.
stop_nodes() {
	if [ "${#PIDS[@]}" -gt 0 ]; then
		kill -TERM "${PIDS[@]}" 2>/dev/null || true
		wait "${PIDS[@]}" 2>/dev/null || true
		PIDS=()
	fi
}
trap stop_nodes EXIT

step() {
	printf '\n==> %s\n' "$*"
}

# show prints a command as one would type it, quoting what the shell would
# otherwise split or expand.
show() {
	local out='$' a
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9_./:=,@+-]+$ ]]; then out+=" $a"; else out+=" '$a'"; fi
	done
	printf '%s\n' "$out"
}

run() {
	show "$@"
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

step "Generate the program: one binary, one subcommand per node (examples/arith/cmd/arith)"
run "$DGE" generate "$EXAMPLE"

step "Build it"
run go build -o bin/arith ./examples/arith/cmd/arith

step "Start one instance of every node, each its own process (logs in $LOGS)"
for node in duplicate-input double square multiply rest-call; do
	printf '$ bin/arith %s &\n' "$node"
	DGE_LOG=warn bin/arith "$node" 2>"$LOGS/$node.log" &
	PIDS+=("$!")
done

step "Publish ten runs: x = 1..10"
inputs=()
for x in $(seq 1 10); do inputs+=("{\"value\":$x}"); done
run bin/arith publish start "${inputs[@]}"

step "Read the results: 2x·x² = 2x³ for each x (order follows completion)"
show bin/arith consume result -n 10 -timeout 2m
bin/arith consume result -n 10 -timeout 2m | tee "$LOGS/results.jsonl"
want=$(for x in $(seq 1 10); do echo $((2 * x * x * x)); done | sort -n)
got=$(sed -E 's/.*"value":([0-9]+).*/\1/' "$LOGS/results.jsonl" | sort -n)
if [ "$got" != "$want" ]; then
	echo "unexpected results: got $(echo $got), want $(echo $want)" >&2
	exit 1
fi
echo "all ten results are right"

step "Stop the nodes cleanly (SIGTERM: finish in-flight work, ack, close)"
stop_nodes
echo "stopped"

step "Run the whole graph in one process without RabbitMQ: the in-memory broker (local)"
printf '%s\n' "\$ echo '{\"value\":3}' | bin/arith local"
got=$(echo '{"value":3}' | bin/arith local)
echo "$got"
if [ "$got" != '{"value":54}' ]; then
	echo "unexpected local result: got $got, want {\"value\":54}" >&2
	exit 1
fi

step "Run the example's own whole-graph tests (dgetest, in-memory broker)"
run go test -count=1 ./examples/arith/cmd/arith

ORDERS=examples/orders
step "The orders example: a typed join (a Reservation and a Payment), then a route: orders over 1,000.00 EUR wait for a manual review (a poll), the others are approved at once, and both paths merge into ship"
run "$DGE" validate "$ORDERS"
run "$DGE" graph -format mermaid "$ORDERS"
run "$DGE" apply -auto-approve -no-color "$ORDERS"
run "$DGE" generate "$ORDERS"
run go build -o bin/orders ./examples/orders/cmd/orders

step "Start one instance of every orders node, each its own process"
for node in validate split reserve charge confirm by-amount review auto-approve ship; do
	printf '$ bin/orders %s &\n' "$node"
	DGE_LOG=warn bin/orders "$node" 2>>"$LOGS/orders-$node.log" &
	PIDS+=("$!")
done

step "Publish four orders: 15.00 EUR (small), 2,500.00 EUR (large: reviewed), 40.00 USD (a label no path takes), a declined card"
run bin/orders publish order \
	'{"id":"o-1","item":"book","quantity":1,"card":"4242","amount_cents":1500}' \
	'{"id":"o-2","item":"sofa","quantity":1,"card":"4242","amount_cents":250000,"currency":"EUR"}' \
	'{"id":"o-3","item":"lamp","quantity":2,"card":"4242","amount_cents":4000,"currency":"USD"}' \
	'{"id":"o-4","item":"pen","quantity":3,"card":"0000","amount_cents":600}'

step "Read how each run ended: o-1 shipped by auto_approve, o-2 after the review's second check (about a second), o-3 parked by the route as no-route, o-4 by charge"
show bin/orders consume shipped -envelope -n 4 -timeout 2m
bin/orders consume shipped -envelope -n 4 -timeout 2m | tee "$LOGS/orders.jsonl"
if ! grep -q '"result":{"order_id":"o-1","tracking":"TRK-O-1","path":"auto_approve"}' "$LOGS/orders.jsonl" ||
	! grep -q '"result":{"order_id":"o-2","tracking":"TRK-O-2","path":"review"}' "$LOGS/orders.jsonl" ||
	! grep -q '"failed":{"node":"route.by_amount","reason":"no-route","error":"label \\"USD\\"' "$LOGS/orders.jsonl" ||
	! grep -q '"failed":{"node":"process.charge","reason":"permanent","error":"card declined"}' "$LOGS/orders.jsonl"; then
	echo "unexpected orders output: want o-1 shipped by auto_approve, o-2 by review, o-3 no-route, o-4 declined" >&2
	exit 1
fi
echo "each order took its path"

step "The parked messages: the dollar order at the route, the declined card at charge (and the reservation its join held)"
run "$DGE" parked list "$ORDERS"

step "Stop the orders nodes (SIGTERM) and purge the parked messages, so the demo can run again"
stop_nodes
run "$DGE" parked purge -auto-approve "$ORDERS"
run go test -count=1 ./examples/orders/cmd/orders

step "The fib example: a range split into its numbers, each mapped to its Fibonacci number, folded into a sum (local)"
run go build -o bin/fib ./examples/fib/cmd/fib
printf '%s\n' "\$ echo '{\"from\":1,\"to\":10}' | bin/fib local"
got=$(echo '{"from":1,"to":10}' | bin/fib local)
echo "$got"
if [ "$got" != '{"count":10,"first":1,"last":10,"sum":143}' ]; then
	echo "unexpected fib result: got $got, want the sum 143" >&2
	exit 1
fi

DOCS=examples/docs
step "The docs example: a document split into chapters, each chapter into pages, every page summarised on any instance, gathered back in order"
run "$DGE" validate "$DOCS"
run "$DGE" apply -auto-approve -no-color "$DOCS"
run "$DGE" generate "$DOCS"
run go build -o bin/docs ./examples/docs/cmd/docs

step "Start one instance of every docs node and two of summarise, each its own process"
for node in chapters pages summarise summarise chapter summary; do
	printf '$ bin/docs %s &\n' "$node"
	DGE_LOG=warn bin/docs "$node" 2>>"$LOGS/docs-$node.log" &
	PIDS+=("$!")
done

step "Publish the sample document (3 chapters, 5 pages) and read its summary"
run bin/docs publish document "$(cat "$DOCS/sample.json")"
show bin/docs consume result -n 1 -timeout 2m
bin/docs consume result -n 1 -timeout 2m | tee "$LOGS/summary.json"
if ! grep -q '"pages":5,' "$LOGS/summary.json" || ! grep -q '"title":"The relief"' "$LOGS/summary.json"; then
	echo "unexpected summary: want 5 pages over 3 chapters, the last titled The relief" >&2
	exit 1
fi
echo "the summary has its 3 chapters in order"

step "Stop the docs nodes cleanly (SIGTERM)"
stop_nodes
echo "stopped"

printf '\nDemo finished.\n'
