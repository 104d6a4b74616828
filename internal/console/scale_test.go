package console_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/internal/console"
	"github.com/dgehq/dge/internal/status"
)

// scaleGraph writes a graph of nodes nodes for vhost: a start, a fan_out
// and ten chains of process nodes, each ending in a terminate.
func scaleGraph(t testing.TB, vhost string, nodes int) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "graph \"scale\" {\n  handlers = \"example.com/h\"\n}\nbroker {\n  vhost = %q\n  queue_type = \"classic\"\n}\n", vhost)
	b.WriteString("start \"start\" {}\nfan_out \"spread\" {\n  from = start.start\n  queue = \"spread\"\n  message = \"M\"\n}\n")
	const chains = 10
	rest := nodes - 2
	for c := range chains {
		length := rest / chains
		if c < rest%chains {
			length++
		}
		from := "fan_out.spread"
		for i := range length {
			name := fmt.Sprintf("c%d_n%d", c, i)
			if i == length-1 {
				fmt.Fprintf(&b, "terminate %q {\n  from = %s\n  queue = %q\n  message = \"M\"\n}\n", name, from, name)
				break
			}
			fmt.Fprintf(&b, "process %q {\n  from = %s\n  queue = %q\n  message = \"M\"\n  handler = \"H\"\n  retry = \"5s\"\n}\n", name, from, name)
			from = "process." + name
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "scale.dge.hcl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// BenchmarkConsoleScale applies a 1,000-node graph (3,000 queues) to a
// vhost of its own and measures GET /api/graph and GET /api/status over
// HTTP (the page's requests), and status.Read (the sampler's read, which
// says how old the status a page shows may be). Run it with
//
//	go test -run '^$' -bench BenchmarkConsoleScale -benchtime 10x ./internal/console
//
// DGE_BENCH_NODES (default 1000) sets the size.
func BenchmarkConsoleScale(b *testing.B) {
	nodes := 1000
	if s := os.Getenv("DGE_BENCH_NODES"); s != "" {
		fmt.Sscan(s, &nodes)
	}
	vh := brokertest.NewVhost(b)
	client := managementClient(b, vh.ManagementURL)
	g := applyGraph(b, scaleGraph(b, vh.Name, nodes), client)
	// The sampler's read, alone: how old the status a page shows may be.
	var readT time.Duration
	const reads = 3
	for range reads {
		t0 := time.Now()
		if _, err := status.Read(b.Context(), client, g); err != nil {
			b.Fatal(err)
		}
		readT += time.Since(t0)
	}
	ts := httptest.NewUnstartedServer(nil)
	srv, err := console.New(console.Config{Graph: g, Management: client, Addr: ts.Listener.Addr().String(),
		Dial: func() (*apply.Mover, error) { return apply.DialMover(vh.AMQPURL, "dge console bench") }})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	ts.Config.Handler = srv.Handler()
	ts.Start()
	defer ts.Close()
	get := func(path string) (time.Duration, int) {
		t0 := time.Now()
		res, err := http.Get(ts.URL + path)
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		buf := make([]byte, 32<<10)
		for {
			k, err := res.Body.Read(buf)
			n += int64(k)
			if err != nil {
				break
			}
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("GET %s: %d", path, res.StatusCode)
		}
		return time.Since(t0), int(n)
	}
	get("/api/status") // waits for the sampler's first read
	var graphT, statusT time.Duration
	var graphN, statusN int
	b.ResetTimer()
	for range b.N {
		d, n := get("/api/graph")
		graphT, graphN = graphT+d, n
		d, n = get("/api/status")
		statusT, statusN = statusT+d, n
	}
	b.StopTimer()
	b.ReportMetric(float64(graphT.Microseconds())/1000/float64(b.N), "graph-ms/op")
	b.ReportMetric(float64(statusT.Microseconds())/1000/float64(b.N), "status-ms/op")
	b.ReportMetric(float64(readT.Milliseconds())/reads, "read-ms")
	b.Logf("%d nodes: GET /api/graph %v (%d bytes), GET /api/status %v (%d bytes), status.Read %v (mean of 3), GETs mean of %d",
		len(g.Nodes), graphT/time.Duration(b.N), graphN, statusT/time.Duration(b.N), statusN, readT/reads, b.N)
}
