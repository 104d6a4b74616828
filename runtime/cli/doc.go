// Package cli is the command line of a program that dge generate writes:
// its main function is os.Exit(cli.Main(graph, os.Args[1:])). The
// subcommands (one per consuming node, all, local, publish, consume,
// topology), their flags and their output are described by the program's
// -h and in the runtime's package documentation.
//
// Each subcommand parses its flags and the environment (DGE_AMQP_URL,
// DGE_VHOST, DGE_LOG, DGE_CONNECTION_NAME, DGE_MAX_BODY, OTEL_*), calls one entry point
// of package runtime (RunNodes, Publish, Consume, StartLocal, Topology) and
// turns what it returns into output lines and an exit code: 0, 1 for a
// failure, 2 for a usage error.
//
// It is a package of its own so that a program which embeds the runtime
// (package runtime) to run nodes carries no flag parsing or usage text,
// nor the in-memory broker (package memory) that the local subcommand runs
// on, nor the OpenTelemetry SDK and exporters that the OTEL_* variables set
// up (trace.go).
//
// The vhost is chosen at run time (vhost.go): the -vhost flag, then
// DGE_VHOST, then DGE_AMQP_URL's path, then the graph's vhost.
//
// Files: cli.go (Main, Run), command.go (dispatch, usage, flags, logging,
// the broker's URL), vhost.go (the vhost's precedence), input.go (the JSON
// check of publish's and local's inputs), one cmd_*.go per subcommand,
// result.go (the -envelope output lines) and trace.go.
package cli
