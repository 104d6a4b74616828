// Package memory is an in-memory broker for the dge runtime: a
// runtime.Transport that holds one graph's topology, as dge apply creates
// it on RabbitMQ, and behaves as RabbitMQ does where the runtime relies on
// it (see Broker). It runs a whole graph in one process: the local
// subcommand of a generated program, and the tests of package dgetest.
//
// It passes the same conformance suite as the AMQP transport (the
// runtime's conformance tests run every case on both).
//
//	b := memory.New(graph, memory.Options{})
//	l, err := runtime.StartLocal(graph, b, runtime.LocalOptions{})
package memory
