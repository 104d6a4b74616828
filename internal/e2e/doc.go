// Package e2e holds end-to-end tests: they build graph programs (the test
// graphs under testdata/e2e and examples/arith, orders, fib and docs), declare each
// graph's topology in a private vhost of the real RabbitMQ, run every node
// as its own OS process, and check what comes out while processes are
// killed, terminated and disconnected, and follow each run's trace across
// the processes. They need the broker named by
// DGE_TEST_AMQP_URL and DGE_TEST_MANAGEMENT_URL and fail without it.
// TestCluster starts a private 3-node cluster of its own with
// scripts/cluster.sh (and fails when it cannot) for the faults only a
// cluster shows: a broker node killed, a resource alarm. TestTLS starts a
// private TLS-only node of its own (ports 5711 and 15711, client
// certificates required, a CA the test makes) and stops it by its process
// group when it ends. split_test.go holds the acceptance runs of split and
// gather, route_test.go that of route and merge (TestOrdersRouteRuns, on
// examples/orders), run_test.go dge run's (TestRunBurst, on
// testdata/runburst: 2,000 runs scale a node to 4 replicas through a
// SIGKILL and back), and BenchmarkRunBurst (bench_run_test.go) times the
// same burst under dge run against one replica; BenchmarkSplitFold (bench_split_test.go) measures one split of
// 100,000 items into a fold on its own graph, testdata/splitbench.
package e2e
