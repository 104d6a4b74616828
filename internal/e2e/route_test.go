package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dgehq/dge/envelope"
	orders "github.com/dgehq/dge/examples/orders/behaviour"
)

// ordersNodes are the subcommands of examples/orders' consuming nodes.
var ordersNodes = []string{"validate", "split", "reserve", "charge", "confirm", "by-amount", "review", "auto-approve", "ship"}

// ordersQueues are examples/orders' edge queues but the route's, whose
// .dead queues must stay empty.
var ordersQueues = []string{"orders.validate", "orders.split", "orders.reserve", "orders.charge", "orders.confirm", "orders.review", "orders.approve", "orders.ship", "orders.shipped"}

// routeCase is what an order of the route runs is, and so the path it
// must take: a label of route.by_amount, or a currency no path takes.
type routeCase int

const (
	routeSmall   routeCase = iota // at most 1,000.00 EUR: auto_approve
	routeLarge                    // over 1,000.00 EUR: review
	routeUnknown                  // another currency: parked as no-route
)

// unknownCurrencies are the currencies of routeUnknown orders: each is the
// label route.by_amount gives them, which no path takes.
var unknownCurrencies = []string{"USD", "GBP", "JPY"}

// routeOrder returns order i of the given case, with a random amount in
// the case's range.
func routeOrder(rng *rand.Rand, i int, c routeCase) orders.Order {
	o := orders.Order{ID: fmt.Sprintf("o-%d", i), Item: "lamp", Quantity: 1 + rng.IntN(5), Card: "4242"}
	switch c {
	case routeSmall:
		o.AmountCents = 1 + rng.Int64N(orders.ReviewThresholdCents)
	case routeLarge:
		o.AmountCents = orders.ReviewThresholdCents + 1 + rng.Int64N(10*orders.ReviewThresholdCents)
	case routeUnknown:
		o.AmountCents = 1 + rng.Int64N(2*orders.ReviewThresholdCents)
		o.Currency = unknownCurrencies[rng.IntN(len(unknownCurrencies))]
	}
	if c != routeUnknown && rng.IntN(2) == 0 {
		o.Currency = orders.Euro
	}
	return o
}

// envelopeLine is one line of consume -envelope: a result or a failure
// record.
type envelopeLine struct {
	Node   string          `json:"node"`
	RunID  string          `json:"run_id"`
	Result json.RawMessage `json:"result"`
	Failed *struct {
		Node, Reason, Error string
	} `json:"failed"`
}

// consumeEnvelope streams the lines `consume -envelope` prints for a
// terminate, results and failure records alike.
func (e *env) consumeEnvelope(terminate string) *results {
	e.t.Helper()
	cmd := e.command("consume-"+terminate, "consume", terminate, "-envelope", "-timeout", "3m")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	p := &proc{t: e.t, name: "consume " + terminate, cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start consume: %v", err)
	}
	r := &results{p: p, lines: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
		p.err = cmd.Wait()
		close(p.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if e.t.Failed() {
			e.t.Logf("consume %s stderr:\n%s", terminate, p.stderr.String())
		}
	})
	return r
}

// metricSum adds up, over the metrics endpoints addrs, the samples of the
// metric name whose labels include every name="value" pair of want, in any
// order; it fails the test when an endpoint cannot be read.
func metricSum(t *testing.T, addrs []string, name string, want ...string) float64 {
	t.Helper()
	sum := 0.0
	for _, addr := range addrs {
		res, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatalf("read metrics at %s: %v", addr, err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatalf("read metrics at %s: %v", addr, err)
		}
	sample:
		for line := range strings.SplitSeq(string(b), "\n") {
			if !strings.HasPrefix(line, name+"{") {
				continue
			}
			labels := line[len(name)+1 : strings.LastIndexByte(line, '}')]
			for _, w := range want {
				if !strings.Contains(","+labels+",", ","+w+",") {
					continue sample
				}
			}
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err != nil {
				t.Fatalf("metrics at %s: sample %q: %v", addr, line, err)
			}
			sum += v
		}
	}
	return sum
}

// TestOrdersRouteRuns: DGE_ROUTE_RUNS orders (default 1,000) through
// examples/orders with 3 instances of every node, each order at random
// small (auto_approve), large (the review, a poll) or in a currency no
// path of route.by_amount takes. Every small and large order is shipped
// once, stamped with the path its label names (0 lost, 0 on the wrong
// path); every order of an unknown currency is parked at the route as
// no-route, naming its label, and its run ends with exactly one failure
// record; nothing else is parked; the route's instances count the orders
// of each label in dge_route_messages_total.
func TestOrdersRouteRuns(t *testing.T) {
	runs := chaosInt(t, "DGE_ROUTE_RUNS", 1000)
	const instances = 3
	e := newEnv(t, "examples/orders", "./examples/orders/cmd/orders")
	var metricsAddrs []string
	for _, n := range ordersNodes {
		for i := 1; i <= instances; i++ {
			args := []string{n}
			if n == "by-amount" {
				addr := freeAddr(t)
				metricsAddrs = append(metricsAddrs, addr)
				args = append(args, "-metrics-addr", addr)
			}
			e.start(fmt.Sprintf("%s-%d", n, i), args...)
		}
	}
	out := e.consumeEnvelope("shipped")

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 23))
	cases := make([]routeCase, runs)
	count := map[routeCase]int{}
	var lines strings.Builder
	for i := range runs {
		var c routeCase
		switch r := rng.IntN(10); {
		case r < 1:
			c = routeUnknown
		case r < 5:
			c = routeLarge
		default:
			c = routeSmall
		}
		cases[i], count[c] = c, count[c]+1
		b, err := json.Marshal(routeOrder(rng, i, c))
		if err != nil {
			t.Fatal(err)
		}
		lines.Write(b)
		lines.WriteByte('\n')
	}
	started := time.Now()
	ids := strings.Fields(e.run("publish", lines.String(), "publish", "order"))
	if len(ids) != runs {
		t.Fatalf("publish printed %d run IDs for %d orders", len(ids), runs)
	}
	order := make(map[string]int, runs) // run ID → order index
	for i, id := range ids {
		order[id] = i
	}

	wantPath := map[routeCase]string{routeSmall: orders.PathAutoApprove, routeLarge: orders.PathReview}
	shipped := map[int]int{}  // order index → shipments received
	failures := map[int]int{} // order index → failure records received
	wrongPath, unexpected := 0, 0
	var firstWrong string
	ended := map[int]bool{} // order index → a result or failure record came
	for len(ended) < runs {
		var l envelopeLine
		line := out.next(t)
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("consume -envelope printed %q: %v", line, err)
		}
		i, ok := order[l.RunID]
		if !ok {
			t.Fatalf("%q: a run that was not published", line)
		}
		c := cases[i]
		ended[i] = true
		if l.Failed != nil {
			failures[i]++
			if c != routeUnknown || l.Failed.Node != "route.by_amount" || l.Failed.Reason != string(envelope.NoRoute) {
				unexpected++
				if firstWrong == "" {
					firstWrong = fmt.Sprintf("order %d (case %d): failure record %s", i, c, line)
				}
			}
			continue
		}
		var s orders.Shipment
		if err := json.Unmarshal(l.Result, &s); err != nil {
			t.Fatalf("result %q: not a Shipment: %v", line, err)
		}
		shipped[i]++
		if c == routeUnknown || s.Path != wantPath[c] || s.OrderID != fmt.Sprintf("o-%d", i) {
			wrongPath++
			if firstWrong == "" {
				firstWrong = fmt.Sprintf("order %d (case %d, want path %q): shipment %s", i, c, wantPath[c], line)
			}
		}
	}
	elapsed := time.Since(started)

	// The runs are all in; what is parked must be there too: the failure
	// notice of a run leaves before its message is settled in the dead queue.
	waitFor(t, "no-route order parked for every unknown currency", func() bool {
		return e.queueCount("orders.route.dead") >= count[routeUnknown]
	})
	noRoute := 0
	for _, d := range e.drain("orders.route.dead", count[routeUnknown]) {
		reason, _ := d.Headers[envelope.HeaderReason].(string)
		msg, _ := d.Headers[envelope.HeaderError].(string)
		var c orders.Confirmation // the parked body is the route's input
		if err := json.Unmarshal(d.Body, &c); err != nil {
			t.Errorf("parked body %q: not a Confirmation: %v", d.Body, err)
			continue
		}
		if reason != string(envelope.NoRoute) || c.Currency == "" || !strings.Contains(msg, c.Currency) {
			t.Errorf("order %s parked at the route: reason %q, error %q; want no-route naming its label %q", c.OrderID, reason, msg, c.Currency)
			continue
		}
		noRoute++
	}
	parked := parkedIn(e, ordersQueues)
	duplicates, lost, records := 0, 0, 0
	for i, c := range cases {
		switch {
		case c == routeUnknown:
			records += failures[i]
			if failures[i] != 1 {
				unexpected++
				if firstWrong == "" {
					firstWrong = fmt.Sprintf("order %d in an unknown currency: %d failure records, want exactly 1", i, failures[i])
				}
			}
		case shipped[i] == 0:
			lost++
		default:
			duplicates += shipped[i] - 1
		}
	}
	routed := map[string]float64{}
	for _, label := range []string{orders.LabelSmall, orders.LabelLarge} {
		routed[label] = metricSum(t, metricsAddrs, "dge_route_messages_total", `node="route.by_amount"`, fmt.Sprintf("label=%q", label))
	}

	line := fmt.Sprintf("chaos: route-runs runs=%d small=%d large=%d unknown=%d instances=%d lost=%d wrong_path=%d duplicates=%d no_route_parked=%d failure_records=%d other_parked=%d routed_small=%.0f routed_large=%.0f elapsed=%s",
		runs, count[routeSmall], count[routeLarge], count[routeUnknown], instances, lost, wrongPath, duplicates, noRoute, records, parked, routed[orders.LabelSmall], routed[orders.LabelLarge], elapsed.Round(100*time.Millisecond))
	t.Log(line)
	fmt.Println(line)
	if lost > 0 || wrongPath > 0 || unexpected > 0 || parked > 0 || noRoute != count[routeUnknown] {
		t.Errorf("%d lost, %d on the wrong path, %d unexpected failure records (first wrong: %s), %d parked outside the route, %d of %d unknown currencies parked as no-route",
			lost, wrongPath, unexpected, firstWrong, parked, noRoute, count[routeUnknown])
	}
	if routed[orders.LabelSmall] < float64(count[routeSmall]) || routed[orders.LabelLarge] < float64(count[routeLarge]) {
		t.Errorf("dge_route_messages_total counted %v, want at least small=%d large=%d (one per order, more only for redeliveries)",
			routed, count[routeSmall], count[routeLarge])
	}
}
