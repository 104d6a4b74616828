package config_test

import (
	"fmt"
	"os"

	"github.com/hashicorp/hcl/v2"

	"github.com/dgehq/dge/config"
)

func ExampleLoader_Load() {
	l := config.NewLoader()
	g, diags := l.Load("../testdata/graphs/arith", config.Options{
		VarArgs: []config.VarArg{{Raw: "vhost=/arith"}},
	})
	if diags.HasErrors() {
		wr := hcl.NewDiagnosticTextWriter(os.Stdout, l.Files(), 78, false)
		_ = wr.WriteDiagnostics(diags)
		return
	}
	fmt.Println(g.Name, g.Broker.Vhost, g.Broker.WorkExchange)
	for _, n := range g.Nodes {
		if n.Edge == nil {
			fmt.Println(n.Addr())
			continue
		}
		fmt.Printf("%s <- %s (%s)\n", n.Addr(), n.Edge.Queue, n.Edge.Message)
	}
	// Output:
	// arith /arith arith.work
	// start.start
	// fan_out.duplicate_input <- input (Integer)
	// process.double <- input_copy_1 (Integer)
	// process.square <- input_copy_2 (Integer)
	// aggregate.multiply <- multiply (Integer)
	// poll.rest_call <- rest_call (Float)
	// terminate.result <- result (Integer)
}

func ExampleLoader_LoadSource() {
	src := []byte(`
graph "hello" {
  handlers = "example.com/hello"
}
start "in" {}
process "greet" {
  from    = start.in
  queue   = "greet"
  message = "Name"
  handler = "greet"
}
terminate "out" {
  from    = process.greet
  queue   = "out"
  message = "Greeting"
}
`)
	l := config.NewLoader()
	_, diags := l.LoadSource("hello.dge.hcl", src, config.Options{})
	for _, d := range diags {
		fmt.Printf("%s: %s\n", d.Subject, d.Summary)
	}
	// Output:
	// hello.dge.hcl:10,13-20: Invalid handler name
}
