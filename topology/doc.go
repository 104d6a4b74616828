// Package topology is the one place that derives, from a graph's edges, the
// RabbitMQ objects its nodes need: the names of the exchanges and of each
// edge's queues, which queue dead-letters where and after which delay, the
// bindings, the queue type and the delivery limit.
//
// Every reader asks it: dge plan (which adds the ownership stamp and the
// policies on top), the runtime's start-up check and its topology
// subcommand, the in-memory broker, and the tests' declarations. It holds
// no configuration language and no broker client, so a generated program
// carries it at no cost.
//
// For an edge queue Q of graph G (exchange names may be overridden):
//
//	exchange G.work    direct; every output is published here with routing key = its queue
//	exchange G.retry   direct; work queues dead-letter here
//	exchange G.poll    direct; only when the graph has poll nodes
//	queue Q            bound to G.work with key Q; dead-letters to G.retry
//	queue Q.retry      bound to G.retry with key Q; after the edge's retry delay, dead-letters to G.work
//	queue Q.dead       bound to G.work with key Q.dead; parked messages
//	queue Q.poll       poll nodes: bound to G.poll with key Q; after the interval, dead-letters to G.work
//
// A queue renamed by a moved block (once O, now Q) also takes the old key
// while the block stays: Q bound to G.work and Q.retry to G.retry, both with
// key O, so that programs generated before the rename keep working.
//
// Dead-lettering keeps a message's routing key (no queue sets a
// dead-letter routing key), which is how a message finds its way back to Q.
package topology
