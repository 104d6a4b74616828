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

// chainedLocals returns a graph whose n locals each add one to the one
// before: a0 = 1, a1 = local.a0 + 1, ...
func chainedLocals(n int) []byte {
	var b strings.Builder
	b.WriteString("locals {\n  a0 = 1\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "  a%d = local.a%d + 1\n", i, i-1)
	}
	fmt.Fprintf(&b, "}\n\ngraph \"chain\" {\n  handlers = \"example.com/chain\"\n}\n\nstart \"in\" {}\n\n")
	fmt.Fprintf(&b, "terminate \"out\" {\n  from    = start.in\n  queue   = \"q${local.a%d}\"\n  message = \"Job\"\n}\n", n-1)
	return []byte(b.String())
}

// BenchmarkChainedLocals loads graphs of 1,000 to 20,000 chained locals:
// the time per local stays about the same, as evaluation is linear in the
// number of locals.
func BenchmarkChainedLocals(b *testing.B) {
	for _, n := range []int{1000, 10_000, 20_000} {
		src := chainedLocals(n)
		b.Run(fmt.Sprintf("locals=%d", n), func(b *testing.B) {
			for b.Loop() {
				g, diags := config.NewLoader().LoadSource("chain.dge.hcl", src, config.Options{})
				if diags.HasErrors() || g.Nodes[1].Edge.Queue != fmt.Sprintf("q%d", n) {
					b.Fatalf("diags %v", diags)
				}
			}
		})
	}
}
