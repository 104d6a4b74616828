package cli_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/plan"
	dge "github.com/dgehq/dge/runtime"
	"github.com/dgehq/dge/runtime/cli"
)

type num struct {
	Value int `json:"value"`
}

// vhostGraphHCL is a graph whose vhost is a variable, as in the examples.
const vhostGraphHCL = `
graph "vh" {
  handlers = "example.com/vh/handlers"
}
broker {
  vhost      = var.vhost
  queue_type = "classic"
}
variable "vhost" {
  default = "/"
}
start "in" {}
process "double" {
  from    = start.in
  queue   = "vh_in"
  message = "Num"
  handler = "Double"
}
terminate "out" {
  from    = process.double
  queue   = "vh_out"
  message = "Num"
}
`

// vhostProgram is the graph of vhostGraphHCL as dge generate writes it
// without -var: on the graph's default vhost "/".
func vhostProgram() dge.Graph {
	edge := func(q string) dge.Edge {
		return dge.Edge{Queue: q, Message: "Num", Retry: 5 * time.Second, MaxAttempts: 5, Concurrency: 1}
	}
	double := func(_ context.Context, n num) (num, error) { return num{2 * n.Value}, nil }
	return dge.Graph{
		Name: "vh", Vhost: "/", WorkExchange: "vh.work", RetryExchange: "vh.retry", QueueType: "classic",
		Nodes: []dge.Node{
			dge.Start[num]("in", "vh_in"),
			dge.Process[num, num]("double", edge("vh_in"), double, "vh_out"),
			dge.Terminate[num]("out", edge("vh_out")),
		},
	}
}

// TestRunTimeVhost applies the graph with -var vhost=X (X a test vhost),
// then runs the program generated without it, as go generate writes it, on
// X: the node with DGE_VHOST, publish with -vhost, consume with DGE_VHOST
// beside a URL that names the same vhost. The run completes; -h and the
// node's log name the vhost and where it came from.
func TestRunTimeVhost(t *testing.T) {
	vh := brokertest.NewVhost(t)

	// dge apply -var vhost=X: the graph's topology in X.
	g, diags := config.NewLoader().LoadSource("graph.dge.hcl", []byte(vhostGraphHCL),
		config.Options{VarArgs: []config.VarArg{{Raw: "vhost=" + vh.Name}}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if g.Broker.Vhost != vh.Name {
		t.Fatalf("the graph's vhost is %q, want %q", g.Broker.Vhost, vh.Name)
	}
	if err := brokertest.Declare(vh.Dial(t), plan.TopologyParams(g)); err != nil {
		t.Fatal(err)
	}

	prog := vhostProgram()
	baseURL := brokertest.AMQPURL(t) // no vhost in its path
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	run := func(ctx context.Context, getenv func(string) string, args ...string) (code int, stdout, stderr string) {
		var out, errb strings.Builder
		code = cli.Run(ctx, prog, args, getenv, strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}

	// -h says which vhost and why.
	withEnv := env(map[string]string{"DGE_AMQP_URL": baseURL, "DGE_VHOST": vh.Name})
	_, out, _ := run(t.Context(), withEnv, "-h")
	if want := `on RabbitMQ vhost "` + vh.Name + `" (from DGE_VHOST; the graph's is "/")`; !strings.Contains(out, want) {
		t.Errorf("-h does not say %q:\n%s", want, out)
	}
	_, _, errOut := run(t.Context(), env(map[string]string{"DGE_AMQP_URL": baseURL}), "double", "-vhost", vh.Name, "-h")
	if want := `Vhost: "` + vh.Name + `" (from -vhost; the graph's is "/")`; !strings.Contains(errOut, want) {
		t.Errorf("double -vhost X -h does not say %q:\n%s", want, errOut)
	}
	_, _, errOut = run(t.Context(), env(nil), "double", "-h")
	if want := `Vhost: "/" (the graph's;`; !strings.Contains(errOut, want) {
		t.Errorf("double -h without settings does not say %q:\n%s", want, errOut)
	}

	// The node, on X through DGE_VHOST.
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var nodeErr string
	wg.Add(1)
	go func() {
		defer wg.Done()
		nodeEnv := env(map[string]string{"DGE_AMQP_URL": baseURL, "DGE_VHOST": vh.Name, "DGE_CONNECTION_NAME": t.Name() + " double"})
		if code, _, errb := run(ctx, nodeEnv, "double"); code != 0 {
			nodeErr = errb
			t.Errorf("double exited %d:\n%s", code, errb)
		} else {
			nodeErr = errb
		}
	}()
	defer func() { stop(); wg.Wait() }()

	// publish with the flag, consume with the variable.
	code, out, errOut := run(t.Context(), env(map[string]string{"DGE_AMQP_URL": baseURL}), "publish", "-vhost", vh.Name, "in", `{"value":21}`)
	if code != 0 || strings.TrimSpace(out) == "" {
		t.Fatalf("publish exited %d, printed %q:\n%s", code, out, errOut)
	}
	consumeEnv := env(map[string]string{"DGE_AMQP_URL": vh.AMQPURL, "DGE_VHOST": vh.Name})
	code, out, errOut = run(t.Context(), consumeEnv, "consume", "out", "-n", "1", "-timeout", "30s")
	if code != 0 || strings.TrimSpace(out) != `{"value":42}` {
		t.Fatalf("consume exited %d, printed %q, want {\"value\":42}:\n%s", code, out, errOut)
	}
	if strings.Contains(errOut, `"level":"WARN"`) {
		t.Errorf("consume warned, though DGE_VHOST and the URL name the same vhost:\n%s", errOut)
	}
	stop()
	wg.Wait()
	if want := `"msg":"using vhost","graph":"vh","vhost":"` + vh.Name + `","from":"DGE_VHOST"`; !strings.Contains(nodeErr, want) {
		t.Errorf("the node's log does not say %s:\n%s", want, nodeErr)
	}
}

// TestVhostConflictWarns checks that a URL naming one vhost and DGE_VHOST
// another connect to DGE_VHOST's, with a warning naming both.
func TestVhostConflictWarns(t *testing.T) {
	vh := brokertest.NewVhost(t)
	g, diags := config.NewLoader().LoadSource("graph.dge.hcl", []byte(vhostGraphHCL), config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if err := brokertest.Declare(vh.Dial(t), plan.TopologyParams(g)); err != nil {
		t.Fatal(err)
	}
	// The URL names a vhost that does not exist; DGE_VHOST the test's.
	url := strings.TrimSuffix(brokertest.AMQPURL(t), "/") + "/dge-test-no-such-vhost"
	getenv := func(k string) string {
		return map[string]string{"DGE_AMQP_URL": url, "DGE_VHOST": vh.Name}[k]
	}
	var out, errb strings.Builder
	if code := cli.Run(t.Context(), vhostProgram(), []string{"publish", "in", `{"value":1}`}, getenv, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("publish exited %d:\n%s", code, errb.String())
	}
	want := `DGE_VHOST names vhost \"` + vh.Name + `\", the path of DGE_AMQP_URL names \"dge-test-no-such-vhost\": using \"` + vh.Name + `\"`
	if !strings.Contains(errb.String(), want) {
		t.Errorf("no warning %s:\n%s", want, errb.String())
	}
}
