package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/plan"
	amqp "github.com/rabbitmq/amqp091-go"
)

// binDir holds the graph binaries built once per test run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dge-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var builds sync.Map // package path → *buildResult

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// build compiles a graph program (once per test run) and returns its path.
func build(t *testing.T, pkg string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg, &buildResult{})
	b := v.(*buildResult)
	b.once.Do(func() {
		b.path = filepath.Join(binDir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-o", b.path, pkg)
		cmd.Dir = repoRoot(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// env is a private vhost with a graph's topology declared and its program
// built.
type env struct {
	t     *testing.T
	vh    brokertest.Vhost
	conn  *amqp.Connection
	bin   string
	extra []string // extra environment for every process
}

// newEnv loads the graph in dir (relative to the repository root),
// declares its topology in a new vhost and builds its program from pkg.
func newEnv(t *testing.T, dir, pkg string) *env {
	t.Helper()
	bin := build(t, pkg)
	l := config.NewLoader()
	g, diags := l.Load(filepath.Join(repoRoot(t), dir), config.Options{Env: os.Environ()})
	if diags.HasErrors() {
		t.Fatalf("load %s: %v", dir, diags)
	}
	vh := brokertest.NewVhost(t)
	conn := vh.Dial(t)
	if err := brokertest.Declare(conn, plan.TopologyParams(g)); err != nil {
		t.Fatalf("declare topology: %v", err)
	}
	return &env{t: t, vh: vh, conn: conn, bin: bin}
}

// proc is one running OS process of the graph program.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (e *env) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(e.bin, args...)
	cmd.Env = append(os.Environ(),
		"DGE_AMQP_URL="+e.vh.AMQPURL,
		"DGE_CONNECTION_NAME="+e.t.Name()+" "+name,
		"DGE_LOG=warn",
	)
	cmd.Env = append(cmd.Env, e.extra...)
	return cmd
}

// start starts a process running args; the name labels its connection and
// its logs. It is killed at the end of the test if still running.
func (e *env) start(name string, args ...string) *proc {
	e.t.Helper()
	p := &proc{t: e.t, name: name, cmd: e.command(name, args...), stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		e.t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	e.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if e.t.Failed() {
			e.t.Logf("%s stderr:\n%s", name, p.stderr.String())
		}
	})
	return p
}

// kill sends SIGKILL and waits for the process to die.
func (p *proc) kill() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// term sends SIGTERM and returns the exit code.
func (p *proc) term() int {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		p.t.Fatalf("%s did not exit within 2 minutes of SIGTERM", p.name)
	}
	return p.cmd.ProcessState.ExitCode()
}

// run runs a command to completion with stdin and returns its stdout.
func (e *env) run(name, stdin string, args ...string) string {
	e.t.Helper()
	cmd := e.command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		e.t.Fatalf("%s %v: %v\n%s", e.bin, args, err, errb.String())
	}
	return out.String()
}

// results streams the JSON lines a `consume` process prints.
type results struct {
	p     *proc
	lines chan string
}

func (e *env) consume(terminate string) *results {
	e.t.Helper()
	cmd := e.command("consume-"+terminate, "consume", terminate, "-timeout", "3m")
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

// next returns the next result line, failing the test when none comes
// within the deadline.
func (r *results) next(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-r.lines:
		if !ok {
			t.Fatalf("consume ended early: %s", r.p.stderr.String())
		}
		return l
	case <-time.After(3 * time.Minute):
		t.Fatal("no result within 3 minutes")
	}
	return ""
}

// closeConnections force-closes, through the management API, every
// connection of the named process.
func (e *env) closeConnections(name string) {
	e.t.Helper()
	e.vh.CloseConnections(e.t, e.t.Name()+" "+name)
}

// queueCount returns the ready messages of a queue (exact, by a passive
// declare).
func (e *env) queueCount(queue string) int {
	e.t.Helper()
	ch, err := e.conn.Channel()
	if err != nil {
		e.t.Fatal(err)
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		e.t.Fatalf("inspect queue %s: %v", queue, err)
	}
	return q.Messages
}

// drain gets every message of a queue until it has n, failing after a
// deadline.
func (e *env) drain(queue string, n int) []amqp.Delivery {
	e.t.Helper()
	return brokertest.WaitMessages(e.t, e.conn, queue, n)
}

// freeAddr returns a loopback address with a free port.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// metric reads one sample (name + labels prefix match) from a metrics
// endpoint; -1 when unavailable.
func metric(addr, prefix string) float64 {
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				return v
			}
		}
	}
	return -1
}
