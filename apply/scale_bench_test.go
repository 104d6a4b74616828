package apply_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/internal/mgmt"
	"github.com/dgehq/dge/plan"
)

// countingTransport counts the HTTP requests that go through it.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// scaleGraph writes a graph of exactly nodes nodes: start -> fan_out ->
// 10 chains of processes, each ending in a terminate. Retry delays cycle
// through three values, so the graph has a handful of policies.
func scaleGraph(dir, vhost, queueType string, nodes int) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "graph \"scale\" {\n  handlers = \"example.com/h\"\n}\nbroker {\n  vhost = %q\n  queue_type = %q\n}\n", vhost, queueType)
	b.WriteString("start \"start\" {}\n")
	b.WriteString("fan_out \"spread\" {\n  from = start.start\n  queue = \"spread\"\n  message = \"M\"\n}\n")
	const chains = 10
	rest := nodes - 2
	retries := []string{"5s", "10s", "30s"}
	k := 0
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
			fmt.Fprintf(&b, "process %q {\n  from = %s\n  queue = %q\n  message = \"M\"\n  handler = \"H\"\n  retry = %q\n}\n",
				name, from, name, retries[k%len(retries)])
			k++
			from = "process." + name
		}
	}
	path := filepath.Join(dir, "scale.dge.hcl")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

// BenchmarkScale applies a generated 1,000-node graph to an empty vhost,
// then plans against it, and compares that plan's read with reading the
// same objects one GET each (10 at a time, the Terraform provider's way).
// It runs its work once whatever b.N is; run it with
//
//	go test -run '^$' -bench BenchmarkScale -benchtime 1x ./apply
//
// DGE_BENCH_NODES (default 1000) and DGE_BENCH_QUEUE_TYPE (default
// classic; quorum is heavier on a small shared machine) tune it.
func BenchmarkScale(b *testing.B) {
	nodes := 1000
	if s := os.Getenv("DGE_BENCH_NODES"); s != "" {
		fmt.Sscan(s, &nodes)
	}
	qtype := os.Getenv("DGE_BENCH_QUEUE_TYPE")
	if qtype == "" {
		qtype = "classic"
	}
	vh := brokertest.NewVhost(b)
	path, err := scaleGraph(b.TempDir(), vh.Name, qtype, nodes)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	g, diags := config.NewLoader().Load(path, config.Options{})
	if diags.HasErrors() {
		b.Fatalf("load generated graph: %s", diags.Error())
	}
	loadTime := time.Since(t0)
	want := plan.Desired(g)

	ct := &countingTransport{base: &http.Transport{MaxIdleConnsPerHost: 64}}
	cfg, err := mgmt.Resolve([]string{mgmt.URLEnv + "=" + vh.ManagementURL}, config.Broker{})
	if err != nil {
		b.Fatal(err)
	}
	client, err := mgmt.New(cfg, mgmt.Options{Transport: ct})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()

	for range b.N {
		// Apply from empty (its own plan read included).
		ct.n.Store(0)
		t0 = time.Now()
		snap, err := client.Read(ctx, vh.Name)
		if err != nil {
			b.Fatal(err)
		}
		p, err := plan.New(want, snap, plan.Options{DgeVersion: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		res, err := apply.Apply(ctx, mgmt.NewApplyBroker(client), p, apply.Options{})
		if err != nil {
			b.Fatal(err)
		}
		applyTime, applyReqs := time.Since(t0), ct.n.Load()

		// Plan against the vhost holding it.
		ct.n.Store(0)
		t0 = time.Now()
		snap, err = client.Read(ctx, vh.Name)
		if err != nil {
			b.Fatal(err)
		}
		p2, err := plan.New(want, snap, plan.Options{DgeVersion: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		planTime, planReqs := time.Since(t0), ct.n.Load()
		if p2.HasChanges() {
			b.Fatalf("plan after apply has %d changes", len(p2.Changes))
		}

		// The same objects read one GET each, 10 in parallel.
		ct.n.Store(0)
		t0 = time.Now()
		if err := readOneByOne(ctx, ct, cfg, vh.Name, want); err != nil {
			b.Fatal(err)
		}
		perTime, perReqs := time.Since(t0), ct.n.Load()

		objects := len(want.Exchanges) + len(want.Queues) + len(want.Bindings) + len(want.Policies)
		fmt.Printf("\ndge scale: %d nodes, %s queues, %d objects (%d exchanges, %d queues, %d bindings, %d policies); graph load %v\n",
			len(g.Nodes), qtype, objects, len(want.Exchanges), len(want.Queues), len(want.Bindings), len(want.Policies), loadTime.Round(time.Millisecond))
		fmt.Printf("%-44s %12s %10s\n", "step", "wall time", "requests")
		fmt.Printf("%-44s %12v %10d\n", fmt.Sprintf("apply from empty (%d added, parallelism %d)", res.Added, apply.DefaultParallelism), applyTime.Round(time.Millisecond), applyReqs)
		fmt.Printf("%-44s %12v %10d\n", "plan against the applied vhost (no changes)", planTime.Round(time.Millisecond), planReqs)
		fmt.Printf("%-44s %12v %10d\n", "read the same objects one GET each (x10)", perTime.Round(time.Millisecond), perReqs)
		fmt.Printf("plan is %.1fx faster than per-object reads\n\n", float64(perTime)/float64(planTime))
		b.ReportMetric(applyTime.Seconds(), "apply-s")
		b.ReportMetric(float64(applyReqs), "apply-reqs")
		b.ReportMetric(planTime.Seconds(), "plan-s")
		b.ReportMetric(float64(planReqs), "plan-reqs")
		b.ReportMetric(perTime.Seconds(), "per-object-s")
	}
}

// readOneByOne GETs every object of t individually, 10 at a time.
func readOneByOne(ctx context.Context, rt http.RoundTripper, cfg mgmt.Config, vhost string, t plan.Objects) error {
	esc := url.PathEscape
	vh := esc(vhost)
	var paths []string
	for _, e := range t.Exchanges {
		paths = append(paths, "exchanges/"+vh+"/"+esc(e.Name))
	}
	for _, q := range t.Queues {
		paths = append(paths, "queues/"+vh+"/"+esc(q.Name))
	}
	for _, bd := range t.Bindings {
		paths = append(paths, "bindings/"+vh+"/e/"+esc(bd.Source)+"/q/"+esc(bd.Destination))
	}
	for _, p := range t.Policies {
		paths = append(paths, "policies/"+vh+"/"+esc(p.Name))
	}
	hc := &http.Client{Transport: rt}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(10)
	for _, p := range paths {
		g.Go(func() error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Endpoint+"/api/"+p, nil)
			if err != nil {
				return err
			}
			req.SetBasicAuth(cfg.Username, cfg.Password)
			res, err := hc.Do(req)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("GET %s: %s", p, res.Status)
			}
			_, err = io.Copy(io.Discard, res.Body)
			return err
		})
	}
	return g.Wait()
}
