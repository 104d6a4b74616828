package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/internal/gen"
)

// cluster is the private 3-node RabbitMQ cluster of scripts/cluster.sh:
// node i serves AMQP on 127.0.0.1:570i and the management API on
// 127.0.0.1:1570i, user guest/guest.
type cluster struct {
	t    *testing.T
	dead map[int]bool // nodes this test killed
}

const clusterNodes = 3

func amqpBase(i int) string { return fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d", 5700+i) }
func mgmtBase(i int) string { return fmt.Sprintf("http://guest:guest@127.0.0.1:%d", 15700+i) }

// amqpURLs lists every node's AMQP URL for vhost, as DGE_AMQP_URL takes it.
func (c *cluster) amqpURLs(vhost string) string {
	var l []string
	for i := 1; i <= clusterNodes; i++ {
		l = append(l, amqpBase(i)+"/"+url.PathEscape(vhost))
	}
	return strings.Join(l, ",")
}

// mgmtURLs lists every node's management URL, as DGE_MANAGEMENT_URL takes it.
func (c *cluster) mgmtURLs() string {
	var l []string
	for i := 1; i <= clusterNodes; i++ {
		l = append(l, mgmtBase(i))
	}
	return strings.Join(l, ",")
}

// script runs scripts/cluster.sh and returns its combined output.
func (c *cluster) script(args ...string) (string, error) {
	cmd := exec.Command("bash", append([]string{filepath.Join(repoRoot(c.t), "scripts", "cluster.sh")}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// live returns the nodes this test did not kill.
func (c *cluster) live() []int {
	var l []int
	for i := 1; i <= clusterNodes; i++ {
		if !c.dead[i] {
			l = append(l, i)
		}
	}
	return l
}

// client returns a management client of a node that is still up.
func (c *cluster) client(t *testing.T) *rabbithole.Client {
	t.Helper()
	cl, err := brokertest.NewClient(mgmtBase(c.live()[0]))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// vhost creates a vhost of the test's own on the cluster, grants guest
// every permission on it, and deletes it when the test ends. Once a node
// was killed, deleting it would wait on the dead node for every quorum
// queue (108 s for 18 of them, measured); it then goes with the
// cluster's data when TestCluster stops the cluster.
func (c *cluster) vhost(t *testing.T) string {
	t.Helper()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := "dge-test-" + strings.ToLower(strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())) + "-" + hex.EncodeToString(rnd[:])
	cl := c.client(t)
	res, err := cl.PutVhost(name, rabbithole.VhostSettings{Description: "dge test " + t.Name()})
	if err != nil {
		t.Fatalf("create vhost %s on the cluster: %v", name, err)
	}
	res.Body.Close()
	t.Cleanup(func() {
		if len(c.live()) < clusterNodes {
			t.Logf("vhost %s is removed with the cluster's data: a node is down", name)
			return
		}
		var err error
		for attempt := range 6 {
			time.Sleep(time.Duration(attempt) * 500 * time.Millisecond)
			var res *http.Response
			if res, err = c.client(t).DeleteVhost(name); err == nil {
				res.Body.Close()
				return
			}
		}
		t.Errorf("delete vhost %s on the cluster: %v", name, err)
	})
	res, err = cl.UpdatePermissionsIn(name, "guest", rabbithole.Permissions{Configure: ".*", Write: ".*", Read: ".*"})
	if err != nil {
		t.Fatalf("grant guest permissions on vhost %s: %v", name, err)
	}
	res.Body.Close()
	return name
}

// lockSession holds an exclusive lock on the cluster for the rest of the
// test (released in t.Cleanup, after the cluster stopped), waiting up to
// ten minutes for another test process to release it.
func lockSession(t *testing.T) {
	t.Helper()
	dir := os.Getenv("DGE_CLUSTER_DIR")
	if dir == "" {
		dir = "/tmp/dge-cluster"
	}
	f, err := os.OpenFile(dir+".session.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("open the cluster's session lock: %v", err)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
	deadline := time.Now().Add(10 * time.Minute)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			t.Fatalf("lock %s (another go test process runs TestCluster?): %v", f.Name(), err)
		}
		time.Sleep(time.Second)
	}
}

// apply applies the graph in dir (relative to the repository root) to
// vhost on the cluster with dge apply, both URL lists naming every node.
func (c *cluster) apply(t *testing.T, dir, vhost string) {
	t.Helper()
	cmd := exec.Command(build(t, "./cmd/dge"), "apply", "-auto-approve", "-var", "vhost="+vhost, dir)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(cmd.Environ(), "DGE_MANAGEMENT_URL="+c.mgmtURLs(), "DGE_AMQP_URL="+c.amqpURLs(vhost))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dge apply %s on the cluster: %v\n%s", dir, err, out)
	}
}

// TestCluster starts the private 3-node cluster with scripts/cluster.sh
// (once for all its subtests; it fails when the cluster cannot start) and
// stops it at the end. Its subtests are the faults only a cluster shows.
// Another go test process running it waits for this one to finish: they
// would kill and stop each other's nodes.
func TestCluster(t *testing.T) {
	c := &cluster{t: t, dead: map[int]bool{}}
	lockSession(t)
	// Stop is registered first: a start that fails halfway leaves nodes
	// running, and stop removes whatever started.
	t.Cleanup(func() {
		start := time.Now()
		if out, err := c.script("stop"); err != nil {
			t.Errorf("scripts/cluster.sh stop: %v\n%s", err, out)
		}
		t.Logf("cluster stopped in %.1fs", time.Since(start).Seconds())
	})
	start := time.Now()
	if out, err := c.script("start"); err != nil {
		t.Fatalf("start the private cluster with scripts/cluster.sh start: %v\n%s", err, out)
	}
	t.Logf("cluster up in %.1fs", time.Since(start).Seconds())
	t.Run("BlockedPublishers", func(t *testing.T) { testBlockedPublishers(t, c) })
	t.Run("Failover", func(t *testing.T) { testClusterFailover(t, c) })
}

// testBlockedPublishers raises a memory alarm (alarms are cluster-wide, so
// this runs on the private cluster, never on the shared broker): a node
// that must publish is blocked, logs it once with the reason, and shows it
// in dge_connection_blocked; when the alarm clears it logs that once, the
// gauge drops to 0 and every message goes through.
func testBlockedPublishers(t *testing.T, c *cluster) {
	vh := c.vhost(t)
	c.apply(t, chainDir, vh)
	e := &env{t: t, bin: build(t, chainPkg), extra: []string{"DGE_AMQP_URL=" + c.amqpURLs(vh)}}
	const n = 5
	values := make([]int64, n)
	for i := range values {
		values[i] = int64(i)
	}
	e.run("publish", inputs(values), "publish", "start")

	alarm := func(watermark string) {
		t.Helper()
		if out, err := c.script("ctl", strconv.Itoa(c.live()[0]), "set_vm_memory_high_watermark", watermark); err != nil {
			t.Fatalf("set_vm_memory_high_watermark %s: %v\n%s", watermark, err, out)
		}
	}
	alarm("0.0000001")
	t.Cleanup(func() { alarm("0.4") })

	addr := freeAddr(t)
	e.extra = append(e.extra, "DGE_LOG=info")
	double := e.start("double", "double", "-metrics-addr", addr)
	blocked := func() float64 { return metric(addr, `dge_connection_blocked{graph="chain"}`) }
	acked := func() float64 {
		return metric(addr, `dge_messages_acked_total{graph="chain",node="process.double"`)
	}
	waitFor(t, "dge_connection_blocked 1", func() bool { return blocked() == 1 })
	if a := acked(); a != 0 {
		t.Errorf("%v messages acked while the broker blocks publishing, want 0", a)
	}
	alarm("0.4")
	waitFor(t, "dge_connection_blocked 0 and every message acked", func() bool { return blocked() == 0 && acked() == n })

	logs := double.stderr.String()
	warns := strings.Count(logs, `"msg":"the broker blocks publishing on this connection`)
	ends := strings.Count(logs, `"msg":"the broker unblocked publishing on this connection"`)
	if warns != 1 || ends != 1 || !strings.Contains(logs, `"level":"WARN","msg":"the broker blocks publishing`) || !strings.Contains(logs, `"reason":"low on memory"`) {
		t.Errorf("logs: %d block warnings and %d unblock lines, want one each, the warning with its reason:\n%s", warns, ends, logs)
	}
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within a minute", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const (
	clusterDir = "testdata/e2e/cluster"
	clusterPkg = "./testdata/e2e/cluster/cmd/cluster"
)

// TestClusterGraphInSync checks that the cluster test graph's main.go is
// what dge generate writes for it now.
func TestClusterGraphInSync(t *testing.T) {
	dir := filepath.Join(repoRoot(t), clusterDir)
	g, diags := config.NewLoader().Load(dir, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("load %s: %v", dir, diags)
	}
	files, diags := gen.Generate(g, gen.Options{Dir: dir})
	if diags.HasErrors() {
		t.Fatalf("generate %s: %v", dir, diags)
	}
	have, err := os.ReadFile(filepath.Join(dir, "cmd", "cluster", gen.MainFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(have) != string(files[gen.MainFile]) {
		t.Errorf("%s/cmd/cluster/main.go is out of date: run dge generate %s (and keep only main.go)", clusterDir, clusterDir)
	}
}

// result is one line a consume process printed, when it arrived.
type result struct {
	value int64
	at    time.Time
}

// consumeAlways runs `consume terminate` until ctx ends, starting it again
// whenever it exits (its connection went with a killed broker node), and
// sends every result to out.
func (e *env) consumeAlways(ctx context.Context, terminate string, out chan<- result, wg *sync.WaitGroup) {
	wg.Go(func() {
		for ctx.Err() == nil {
			cmd := e.command("consume-"+terminate, "consume", terminate)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				e.t.Error(err)
				return
			}
			var errb syncBuffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				e.t.Errorf("start consume %s: %v", terminate, err)
				return
			}
			stop := context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				var n number
				if err := json.Unmarshal(sc.Bytes(), &n); err != nil {
					e.t.Errorf("consume %s printed %q: %v", terminate, sc.Text(), err)
					continue
				}
				out <- result{value: n.Value, at: time.Now()}
			}
			err = cmd.Wait()
			stop()
			if ctx.Err() == nil {
				e.t.Logf("consume %s ended (%v), starting it again: %s", terminate, err, strings.TrimSpace(errb.String()))
			}
		}
	})
}

// leaderNode returns the cluster node that leads most of the vhost's
// queues (the /api/queues leader column).
func (c *cluster) leaderNode(t *testing.T, vhost string) int {
	t.Helper()
	u := fmt.Sprintf("http://127.0.0.1:%d/api/queues/%s?columns=name,leader", 15700+c.live()[0], url.PathEscape(vhost))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("guest", "guest")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("read queue leaders: %v", err)
	}
	defer res.Body.Close()
	var qs []struct{ Name, Leader string }
	if err := json.NewDecoder(res.Body).Decode(&qs); err != nil {
		t.Fatalf("read queue leaders: %v", err)
	}
	count := map[int]int{}
	for _, q := range qs {
		var i int
		if _, err := fmt.Sscanf(q.Leader, "dge-cluster-%d@", &i); err == nil {
			count[i]++
		}
	}
	best := 0
	for i, n := range count {
		if best == 0 || n > count[best] {
			best = i
		}
	}
	if best == 0 {
		t.Fatalf("no queue of vhost %s names a leader: %+v", vhost, qs)
	}
	return best
}

// testClusterFailover applies the cluster test graph (quorum queues) to
// the cluster with dge apply, both URL lists naming all three nodes; runs
// each node as an OS process given all three AMQP URLs (double on the node
// that leads the queues); publishes a stream of runs; and SIGKILLs that
// broker node mid-stream, never restarting it. Every run must complete, nothing may be parked; it
// reports duplicates, nacked outputs and the longest pause between
// consecutive results.
func testClusterFailover(t *testing.T, c *cluster) {
	vh := c.vhost(t)
	c.apply(t, clusterDir, vh)
	t0 := time.Now()
	e := &env{t: t, bin: build(t, clusterPkg), extra: []string{"DGE_AMQP_URL=" + c.amqpURLs(vh), "CHAIN_DELAY=1ms", "DGE_LOG=info"}}
	// double is started again until it picked the node that leads the
	// queues, so that the kill makes it fail over every time.
	leader := c.leaderNode(t, vh)
	double := e.start("double", "double")
	for try := 2; connectedTo(t, double) != leader; try++ {
		if code := double.term(); code != 0 || try > 20 {
			t.Fatalf("double exited %d, or never picked node %d in %d tries", code, leader, try)
		}
		double = e.start("double", "double")
	}
	procs := []*proc{double, e.start("square", "square")}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	results := make(chan result, 4096)
	var consumers sync.WaitGroup
	e.consumeAlways(ctx, "result", results, &consumers)
	defer consumers.Wait()
	defer cancel()

	const runs, batch = 1000, 25
	var publishers sync.WaitGroup
	var republished int
	publishers.Go(func() {
		for i := 0; i < runs; i += batch {
			values := make([]int64, batch)
			for j := range values {
				values[j] = int64(i + j)
			}
			for attempt := 1; ; attempt++ {
				cmd := e.command("publish", "publish", "start")
				cmd.Stdin = strings.NewReader(inputs(values))
				out, err := cmd.CombinedOutput()
				if err == nil {
					break
				}
				if attempt == 10 || ctx.Err() != nil {
					t.Errorf("publish runs %d-%d: %v\n%s", i, i+batch-1, err, out)
					return
				}
				republished += batch
				time.Sleep(200 * time.Millisecond)
			}
			time.Sleep(150 * time.Millisecond)
		}
	})

	seen := map[int64]bool{}
	for v := range int64(runs) {
		seen[4*v*v] = false
	}
	var arrivals []time.Time
	dups, done, killed := 0, 0, 0
	var killedAt time.Time
	deadline := time.After(60 * time.Second)
collect:
	for done < runs {
		select {
		case r := <-results:
			got, ok := seen[r.value]
			if !ok {
				t.Fatalf("unexpected result %d", r.value)
			}
			arrivals = append(arrivals, r.at)
			if got {
				dups++
				continue
			}
			seen[r.value] = true
			done++
			if killed == 0 && done == runs/3 {
				killed = c.leaderNode(t, vh)
				if killed != leader {
					t.Logf("the queues' leader moved from node %d to node %d", leader, killed)
				}
				if out, err := c.script("kill", strconv.Itoa(killed)); err != nil {
					t.Fatalf("kill node %d: %v\n%s", killed, err, out)
				}
				c.dead[killed] = true
				killedAt = time.Now()
				t.Logf("SIGKILLed broker node %d, the queues' leader, after %d of %d results", killed, done, runs)
			}
		case <-deadline:
			break collect
		}
	}
	publishers.Wait()
	t.Logf("streamed and collected in %.1fs", time.Since(t0).Seconds())
	lost := runs - done
	pause, pauseAt := longestPause(arrivals)
	nacked := 0
	for _, p := range procs {
		nacked += strings.Count(p.stderr.String(), `"msg":"output not confirmed; the input will be redelivered"`)
	}
	parked := c.parked(t, vh, "input", "doubled", "result")
	t.Logf("%d runs, %d results missing, %d duplicates (%d runs published again after a failed publish), %d parked, %d outputs not confirmed (their inputs redelivered), longest pause between results %.2fs (%.1fs after the kill)",
		runs, lost, dups, republished, parked, nacked, pause.Seconds(), pauseAt.Sub(killedAt).Seconds())
	fmt.Printf("chaos: cluster-failover runs=%d lost=%d duplicates=%d parked=%d nacked=%d longest_pause=%.2fs killed_node=%d\n",
		runs, lost, dups, parked, nacked, pause.Seconds(), killed)
	if killed == 0 {
		t.Errorf("no broker node was killed: only %d results arrived", done)
	}
	if lost > 0 || parked > 0 {
		t.Errorf("%d of %d results missing after 60 s, %d messages parked", lost, runs, parked)
		c.diagnose(t, vh, "input", "doubled", "result")
		// Tell a late result from a lost one: wait a while longer.
		late := time.After(4 * time.Minute)
	wait:
		for done < runs {
			select {
			case r := <-results:
				if !seen[r.value] {
					seen[r.value] = true
					done++
					t.Logf("late result %d arrived %.1fs after the kill", r.value, time.Since(killedAt).Seconds())
				}
			case <-late:
				break wait
			}
		}
		t.Logf("%d of %d results still missing 4 minutes after the deadline", runs-done, runs)
	}
}

// diagnose logs the state of the vhost's queues as a node still up sees
// it, and whether a new connection to each live node can publish to each
// queue: it tells a broker that refuses a queue's publishes from a client
// that kept a bad connection.
func (c *cluster) diagnose(t *testing.T, vhost string, queues ...string) {
	t.Helper()
	vh := url.PathEscape(vhost)
	for _, get := range []struct{ what, path string }{
		{"queues", "/api/queues/" + vh + "?columns=name,leader,members,online,state,messages,messages_ready,messages_unacknowledged,consumers"},
		{"queue " + queues[0], "/api/queues/" + vh + "/" + url.PathEscape(queues[0])},
		{"channels", "/api/vhosts/" + vh + "/channels?columns=name,node,consumer_count,messages_unacknowledged,state"},
		{"consumers", "/api/consumers/" + vh},
	} {
		u := fmt.Sprintf("http://127.0.0.1:%d%s", 15700+c.live()[0], get.path)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		if err == nil {
			req.SetBasicAuth("guest", "guest")
			var res *http.Response
			if res, err = http.DefaultClient.Do(req); err == nil {
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				t.Logf("%s: %s", get.what, body)
			}
		}
		if err != nil {
			t.Logf("%s: %v", get.what, err)
		}
	}
	for _, node := range c.live() {
		conn, err := amqp.Dial(amqpBase(node) + "/" + url.PathEscape(vhost))
		if err != nil {
			t.Logf("node %d: %v", node, err)
			continue
		}
		ch, err := conn.Channel()
		if err == nil {
			err = ch.Confirm(false)
		}
		for _, q := range queues {
			if err != nil {
				break
			}
			var dc *amqp.DeferredConfirmation
			dc, err = ch.PublishWithDeferredConfirmWithContext(t.Context(), "", q, false, false, amqp.Publishing{Body: []byte(`{"value":0}`)})
			if err == nil {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				ok, werr := dc.WaitContext(ctx)
				cancel()
				t.Logf("node %d: publish to %s: acked %v (%v)", node, q, ok, werr)
			}
		}
		if err != nil {
			t.Logf("node %d: %v", node, err)
		}
		conn.Close()
	}
}

// connectedTo waits for a node process's "connected" log line and returns
// the number of the cluster node it connected to.
func connectedTo(t *testing.T, p *proc) int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(p.stderr.String(), "\n") {
			if !strings.Contains(line, `"msg":"connected"`) {
				continue
			}
			for i := 1; i <= clusterNodes; i++ {
				if strings.Contains(line, fmt.Sprintf("@127.0.0.1:%d/", 5700+i)) {
					return i
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s logged no connection within a minute:\n%s", p.name, p.stderr.String())
	return 0
}

// parked returns the messages in the dead queues of the given edge queues,
// counted exactly (a passive declare) on a node still up.
func (c *cluster) parked(t *testing.T, vhost string, queues ...string) int {
	t.Helper()
	conn, err := amqp.Dial(amqpBase(c.live()[0]) + "/" + url.PathEscape(vhost))
	if err != nil {
		t.Fatalf("connect to the cluster: %v", err)
	}
	defer conn.Close()
	n := 0
	for _, q := range queues {
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		d, err := ch.QueueDeclarePassive(q+".dead", true, false, false, false, nil)
		if err != nil {
			t.Fatalf("count %s.dead: %v", q, err)
		}
		n += d.Messages
		ch.Close()
	}
	return n
}

// longestPause returns the longest gap between consecutive arrivals, and
// when it started.
func longestPause(ts []time.Time) (time.Duration, time.Time) {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	var best time.Duration
	var at time.Time
	for i := 1; i < len(ts); i++ {
		if d := ts[i].Sub(ts[i-1]); d > best {
			best, at = d, ts[i-1]
		}
	}
	return best, at
}
