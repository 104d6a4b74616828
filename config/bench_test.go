package config_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dgehq/dge/config"
)

// wideGraph returns a graph of n processes between a fan_out and an
// aggregate, plus a chain of n processes after it: 2n+4 nodes.
func wideGraph(n int) []byte {
	var b strings.Builder
	b.WriteString("graph \"wide\" {\n  handlers = \"example.com/wide\"\n}\n\nstart \"in\" {}\n\n")
	b.WriteString("fan_out \"split\" {\n  from    = start.in\n  queue   = \"split\"\n  message = \"Job\"\n}\n\n")
	var refs []string
	for i := range n {
		fmt.Fprintf(&b, "process \"p%d\" {\n  from    = fan_out.split\n  queue   = \"p%d\"\n  message = \"Job\"\n  handler = \"P\"\n}\n\n", i, i)
		refs = append(refs, fmt.Sprintf("process.p%d", i))
	}
	fmt.Fprintf(&b, "aggregate \"join\" {\n  from    = [%s]\n  queue   = \"join\"\n  message = \"Job\"\n  handler = \"Join\"\n}\n\n", strings.Join(refs, ", "))
	prev := "aggregate.join"
	for i := range n {
		fmt.Fprintf(&b, "process \"c%d\" {\n  from    = %s\n  queue   = \"c%d\"\n  message = \"Job\"\n  handler = \"C\"\n}\n\n", i, prev, i)
		prev = fmt.Sprintf("process.c%d", i)
	}
	fmt.Fprintf(&b, "terminate \"out\" {\n  from    = %s\n  queue   = \"out\"\n  message = \"Job\"\n}\n", prev)
	return []byte(b.String())
}

func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{10, 500, 2500} {
		src := wideGraph(n)
		b.Run(fmt.Sprintf("nodes=%d", 2*n+4), func(b *testing.B) {
			for b.Loop() {
				g, diags := config.NewLoader().LoadSource("wide.dge.hcl", src, config.Options{})
				if diags.HasErrors() || len(g.Nodes) != 2*n+4 {
					b.Fatalf("diags %v", diags)
				}
			}
		})
	}
}
