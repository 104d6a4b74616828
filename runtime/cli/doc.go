// Package cli is the command line of a program that dge generate writes:
// its main function is os.Exit(cli.Main(graph, os.Args[1:])). The
// subcommands (one per consuming node, all, local, publish, consume,
// topology), their flags and their output are described by the program's
// -h and in the runtime's package documentation.
//
// It is a package of its own so that a program which embeds the runtime
// (package runtime) to run nodes carries neither the in-memory broker
// (package memory) that the local subcommand runs on nor the OpenTelemetry
// SDK and exporters that the OTEL_* variables set up (trace.go).
package cli
