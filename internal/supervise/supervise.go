package supervise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/dgehq/dge/internal/scale"
)

// Node is one node of the graph as the Supervisor runs it.
type Node struct {
	// Address is the node's address, e.g. process.fib: the prefix of its
	// replicas' lines and the Node of its events.
	Address string
	// Command is the program's subcommand that runs the node (kebab-case,
	// as runtime.Node.Command).
	Command string
	// Queue is the queue the node consumes: its ready count scales it.
	Queue string
	// Rule is the node's scaling rule; it starts at Rule.Min replicas.
	Rule scale.Rule
	// Grace is the node's -shutdown-timeout: how long a replica may take
	// to finish its messages after SIGTERM before it gets SIGKILL.
	Grace time.Duration
}

// Counter counts a queue's ready messages; amqpcount.Counter is one.
type Counter interface {
	Count(ctx context.Context, queue string) (ready, consumers int64, found bool, err error)
}

// Options configures a Supervisor. Program, Nodes and Console are
// required; every duration left zero takes the default named.
type Options struct {
	// Program is the path of the graph's generated program.
	Program string
	// Args are flags added to every replica's command line, after
	// -shutdown-timeout.
	Args  []string
	Nodes []Node
	// Env is every replica's environment (nil: dge run's own).
	Env []string
	// Counter counts the nodes' queues; nil leaves every node at its
	// minimum.
	Counter Counter
	// Console receives the replicas' lines, the events and the status.
	Console *Console
	// Events, when set, receives every event, in order.
	Events func(Event)
	// Scrub removes secrets from error text before it is shown (nil: none).
	Scrub func(string) string

	Interval          time.Duration // between two counts of the queues: 1s
	MinBackoff        time.Duration // first restart delay: 100ms
	MaxBackoff        time.Duration // highest restart delay: 10s
	ResetAfter        time.Duration // a replica that ran this long restarts after MinBackoff again: 30s
	CrashLoopRestarts int           // more restarts of a node than this within CrashLoopWindow is a crash loop: 5
	CrashLoopWindow   time.Duration // 1m
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Interval, time.Second)
	def(&o.MinBackoff, 100*time.Millisecond)
	def(&o.MaxBackoff, 10*time.Second)
	def(&o.ResetAfter, 30*time.Second)
	def(&o.CrashLoopWindow, time.Minute)
	if o.CrashLoopRestarts <= 0 {
		o.CrashLoopRestarts = 5
	}
	if o.Scrub == nil {
		o.Scrub = func(s string) string { return s }
	}
}

// Supervisor runs, restarts and scales the replicas of a graph's nodes.
type Supervisor struct {
	opts  Options
	nodes []*node

	evMu sync.Mutex // orders the events
}

// New checks opts and returns a Supervisor; Run starts it.
func New(opts Options) (*Supervisor, error) {
	if opts.Program == "" {
		return nil, errors.New("supervise: no program to run")
	}
	if opts.Console == nil {
		opts.Console = NewConsole(io.Discard, false)
	}
	opts.defaults()
	s := &Supervisor{opts: opts}
	for _, n := range opts.Nodes {
		if n.Rule.Max < 1 || n.Rule.Min < 0 || n.Rule.Min > n.Rule.Max {
			return nil, fmt.Errorf("supervise: %s: replicas min %d, max %d: want 0 <= min <= max and max >= 1", n.Address, n.Rule.Min, n.Rule.Max)
		}
		s.nodes = append(s.nodes, &node{s: s, spec: n, scaler: scale.New(n.Rule)})
	}
	return s, nil
}

// Run starts every node's minimum replicas and supervises them until ctx
// ends; then it stops every replica (SIGTERM, its grace, SIGKILL) and
// returns once all have exited. It returns nil after a clean stop.
func (s *Supervisor) Run(ctx context.Context) error {
	for _, n := range s.nodes {
		n.scaleTo(n.spec.Rule.Min, 0, false)
	}
	s.drawStatus()
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.shutdown()
			return nil
		case <-t.C:
		}
		for _, n := range s.nodes {
			n.tick(ctx)
		}
		s.drawStatus()
	}
}

// shutdown stops every replica of every node at once and waits for all.
func (s *Supervisor) shutdown() {
	var wg sync.WaitGroup
	for _, n := range s.nodes {
		for _, r := range n.all() {
			wg.Go(func() { r.stop() })
		}
	}
	wg.Wait()
	s.opts.Console.ClearStatus()
}

// emit stamps an event, writes it to the Console and gives it to
// Options.Events.
func (s *Supervisor) emit(e Event) {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	e.Time = time.Now().UTC()
	e.Error = s.opts.Scrub(e.Error)
	s.opts.Console.Line("dge", e.String())
	if s.opts.Events != nil {
		s.opts.Events(e)
	}
}

// Status is one node's state, as its status line shows it.
type Status struct {
	Node string
	// Running counts the replicas whose process runs; Want is the count
	// the scaler set; Stopping counts replicas finishing after SIGTERM.
	Running, Want, Stopping int
	Ready                   int64
	CrashLoop               bool
}

// String is the node's status line.
func (st Status) String() string {
	s := fmt.Sprintf("%-24s replicas %d/%d  ready %d", st.Node, st.Running, st.Want, st.Ready)
	if st.Stopping > 0 {
		s += fmt.Sprintf("  stopping %d", st.Stopping)
	}
	if st.CrashLoop {
		s += "  CRASH LOOP"
	}
	return s
}

// Status returns every node's state, in the order of Options.Nodes.
func (s *Supervisor) Status() []Status {
	out := make([]Status, 0, len(s.nodes))
	for _, n := range s.nodes {
		out = append(out, n.status())
	}
	return out
}

func (s *Supervisor) drawStatus() {
	var lines []string
	for _, st := range s.Status() {
		lines = append(lines, st.String())
	}
	s.opts.Console.SetStatus(lines)
}
